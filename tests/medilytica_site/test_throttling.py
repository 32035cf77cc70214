"""The API's rate throttles: a sliding-window counter, on Redis or any Django cache."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import redis
from django.core.cache.backends.locmem import LocMemCache
from rest_framework.throttling import SimpleRateThrottle

from medilytica_site.cache import SharedPoolRedisCache
from medilytica_site.throttling import AnonRateThrottle, UserRateThrottle

from .test_cache import redis_url

__all__ = ["redis_url"]


@pytest.fixture(params=["locmem", "redis"])
def backend(request):
    if request.param == "locmem":
        cache = LocMemCache("throttle-tests", {})
    else:
        url = request.getfixturevalue("redis_url")
        redis.Redis.from_url(url).flushall()
        cache = SharedPoolRedisCache(url, {})
    yield cache
    cache.clear()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now


def _throttle(cls, cache, clock, rate="5/min"):
    class Throttle(cls):
        pass

    Throttle.rate = rate
    if cache is not None:  # else the throttle's own: the configured default cache
        Throttle.cache = cache
    Throttle.timer = lambda self: clock.now
    return Throttle()


def _user(pk=7):
    return SimpleNamespace(
        user=SimpleNamespace(is_authenticated=True, pk=pk), META={"REMOTE_ADDR": "10.0.0.1"}
    )


def _calls(cls, cache, clock, count, request=None) -> list[bool]:
    return [
        _throttle(cls, cache, clock).allow_request(request or _user(), None) for _ in range(count)
    ]


def test_the_limit_holds_and_refused_calls_are_not_counted(backend):
    clock = Clock(6000.0)  # the start of a minute
    assert _calls(UserRateThrottle, backend, clock, 5) == [True] * 5
    refused = _throttle(UserRateThrottle, backend, clock)
    assert refused.allow_request(_user(), None) is False
    assert refused.wait() == pytest.approx(60.0)
    assert _calls(UserRateThrottle, backend, clock, 20) == [False] * 20
    assert _calls(UserRateThrottle, backend, clock, 1, _user(pk=8)) == [True]  # per user
    clock.now += 120  # two windows on: nothing counts any more
    assert _calls(UserRateThrottle, backend, clock, 6) == [True] * 5 + [False]


def test_the_previous_window_weighs_in_as_it_slides_out(backend):
    clock = Clock(6050.0)  # 50 s into a minute
    assert _calls(UserRateThrottle, backend, clock, 5) == [True] * 5
    clock.now = 6066.0  # 6 s into the next: 90 % of the last minute's 5 still inside
    assert _calls(UserRateThrottle, backend, clock, 1) == [False]
    clock.now = 6090.0  # halfway: 2.5 of them, so two more calls
    assert _calls(UserRateThrottle, backend, clock, 2) == [True, True]
    refused = _throttle(UserRateThrottle, backend, clock)
    assert refused.allow_request(_user(), None) is False
    assert refused.wait() == pytest.approx(6.0)  # 5 x 0.4 + 2 + 1 = 5: allowed again
    clock.now += 6.0
    assert _calls(UserRateThrottle, backend, clock, 2) == [True, False]


def test_anonymous_callers_are_counted_by_address_and_users_not_at_all(backend):
    clock = Clock(6000.0)
    anonymous = SimpleNamespace(
        user=SimpleNamespace(is_authenticated=False, pk=None),
        META={"REMOTE_ADDR": "10.0.0.9"},
        headers={},
    )
    assert _calls(AnonRateThrottle, backend, clock, 6, anonymous) == [True] * 5 + [False]
    assert _calls(AnonRateThrottle, backend, clock, 10) == [True] * 10  # signed in: not anon


def test_a_forwarded_for_header_does_not_make_a_caller_someone_else(backend):
    """The address is the connection's peer (daphne puts the client there when run with
    --proxy-headers); a header the caller writes is not believed."""
    clock = Clock(6000.0)
    calls = [
        _throttle(AnonRateThrottle, backend, clock).allow_request(
            SimpleNamespace(
                user=SimpleNamespace(is_authenticated=False, pk=None),
                META={"REMOTE_ADDR": "10.0.0.9", "HTTP_X_FORWARDED_FOR": f"192.0.2.{n}"},
                headers={"x-forwarded-for": f"192.0.2.{n}"},
            ),
            None,
        )
        for n in range(6)
    ]
    assert calls == [True] * 5 + [False]


@pytest.mark.django_db
def test_the_api_answers_429_with_retry_after(client_for, monkeypatch):
    from tests.factories import UserFactory

    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "user", "3/minute")
    client = client_for(UserFactory())
    codes = [client.get("/api/auth/me").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    refused = client.get("/api/auth/me")
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    assert "throttled" in refused.json()["detail"].lower()


def test_the_configured_cache_takes_the_one_round_trip_path(redis_url, settings, monkeypatch):
    """DRF's throttles default to `django.core.cache.cache`, a proxy that is no instance
    of the backend's class: with Redis configured, counting must be the one pipeline."""
    from django.core.cache.backends.redis import RedisCache

    settings.CACHES = {
        "default": {"BACKEND": "medilytica_site.cache.SharedPoolRedisCache", "LOCATION": redis_url}
    }
    redis.Redis.from_url(redis_url).flushall()

    def generic_path(*args, **kwargs):
        raise AssertionError("counted with the cache's add / incr / get, a round trip each")

    for name in ("add", "incr", "get", "set"):
        monkeypatch.setattr(RedisCache, name, generic_path)
    assert _calls(UserRateThrottle, None, Clock(6000.0), 6) == [True] * 5 + [False]
