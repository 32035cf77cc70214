"""The Redis that `make run` started, for commands run from another terminal.

`make run` writes the address of the Redis it uses (its embedded one, or REDIS_URL)
to ``var/redis-url`` and only its own processes get REDIS_URL. A `manage.py` command
started beside it (`manage.py train`) reads that file when REDIS_URL is not set at
all, so it queues for the running workers and its epochs reach the browsers. A file
left by a `make run` that has ended is ignored: the address must answer a PING.
An empty REDIS_URL still means "no Redis".
"""

from __future__ import annotations

import os
from pathlib import Path

ADDRESS_FILE = Path("var") / "redis-url"
PING_TIMEOUT = 0.5  # seconds; a stale socket file refuses at once


def running_redis_url(base_dir: Path) -> str | None:
    """The address in `base_dir`/var/redis-url if a Redis answers there, else None."""
    try:
        url = (Path(base_dir) / ADDRESS_FILE).read_text().strip()
    except OSError:
        return None
    if not url:
        return None
    import redis

    try:
        client = redis.Redis.from_url(
            url, socket_timeout=PING_TIMEOUT, socket_connect_timeout=PING_TIMEOUT
        )
    except ValueError:  # not an address
        return None
    try:
        return url if client.ping() else None
    except (redis.RedisError, OSError):
        return None
    finally:
        client.close()


def use_running_redis(base_dir: Path) -> None:
    """Set REDIS_URL from `make run`'s file, where the environment does not set it."""
    if "REDIS_URL" not in os.environ and "REDIS_URL_FILE" not in os.environ:
        url = running_redis_url(base_dir)
        if url:
            os.environ["REDIS_URL"] = url
