"""Request-rate throttles for every API call, at one cache round trip each.

DRF's ``UserRateThrottle`` keeps a log: each request reads the list of its caller's
recent timestamps from the cache, trims it and writes it back (two Redis round trips
and a pickled list of up to ``rate`` floats, for every API call). On a loaded machine
those round trips were a tenth of the web's time under the load benchmark.

These count instead (a sliding-window counter): one counter per caller per window,
and the estimate ``previous window's count x the part of it still inside the last
`duration` seconds + this window's count``. With Redis that is one pipelined round
trip (INCR and EXPIRE of this window's key, GET of the last one); with any other
cache, the cache's ``add`` / ``incr`` / ``get``. A refused request is not counted,
as with DRF. The estimate assumes the previous window's requests were spread evenly
over it; the limit can be exceeded only by that smoothing, never doubled as with
fixed windows.
"""

from __future__ import annotations

import contextlib

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.redis import RedisCache
from rest_framework import throttling

from collaboration.services import client_address


class WindowCounterThrottle(throttling.SimpleRateThrottle):
    @property
    def cache(self):
        # DRF's default is `django.core.cache.cache`, a proxy that is never an instance
        # of the backend's class, so `_redis_client` would never see Redis behind it
        # (three round trips a call instead of one): hold the backend itself.
        return caches[DEFAULT_CACHE_ALIAS]

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        now = self.timer()
        window = int(now // self.duration)
        self.elapsed = now - window * self.duration
        current_key, previous_key = f"{self.key}:{window}", f"{self.key}:{window - 1}"
        self.current, self.previous = _count(
            self.cache, current_key, previous_key, ttl=2 * self.duration
        )
        weight = 1 - self.elapsed / self.duration
        if self.previous * weight + self.current > self.num_requests:
            _uncount(self.cache, current_key)
            self.current -= 1
            return self.throttle_failure()
        return True

    def wait(self) -> float:
        """Seconds until the estimate falls below the limit again."""
        left_in_window = self.duration - self.elapsed
        room = self.num_requests - self.current
        if room <= 0 or not self.previous:
            return left_in_window
        # previous x (1 - (elapsed + t) / duration) + current <= num_requests - 1
        needed = self.duration * (1 - (room - 1) / self.previous) - self.elapsed
        return max(0.0, min(needed, left_in_window))


class UserRateThrottle(WindowCounterThrottle, throttling.UserRateThrottle):
    pass


class AnonRateThrottle(WindowCounterThrottle, throttling.AnonRateThrottle):
    pass


class LoginRateThrottle(WindowCounterThrottle):
    """Password attempts per address (THROTTLE_LOGIN), for the API's credential views
    and the admin's login page alike. Keyed by the address the lockout and the audit
    use (the peer's), not by DRF's `get_ident`, which believes any X-Forwarded-For."""

    scope = "login"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_address(request)}


def _count(cache, current_key: str, previous_key: str, *, ttl: int) -> tuple[int, int]:
    """(this window's count including this request, the previous window's count)."""
    client = _redis_client(cache, current_key)
    if client is not None:
        pipe = client.pipeline(transaction=False)
        key = cache.make_and_validate_key(current_key)
        pipe.incr(key)
        pipe.expire(key, ttl)
        pipe.get(cache.make_and_validate_key(previous_key))
        current, _, previous = pipe.execute()
        return int(current), int(previous or 0)
    cache.add(current_key, 0, ttl)
    try:
        current = cache.incr(current_key)
    except ValueError:  # expired between add and incr, or a cache that keeps nothing
        cache.set(current_key, 1, ttl)
        current = 1
    return int(current), int(cache.get(previous_key) or 0)


def _uncount(cache, current_key: str) -> None:
    client = _redis_client(cache, current_key)
    if client is not None:
        client.decr(cache.make_and_validate_key(current_key))
        return
    with contextlib.suppress(ValueError):
        cache.decr(current_key)


def _redis_client(cache, key: str):
    """The redis-py client behind Django's Redis cache backend, else None."""
    if isinstance(cache, RedisCache):
        return cache._cache.get_client(key, write=True)
    return None
