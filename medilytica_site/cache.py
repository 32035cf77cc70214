"""Django's Redis cache with one connection pool per process, not one per request.

Django keeps a cache backend instance per context, and under ASGI each request runs in
a context (and a thread) of its own, so the stock RedisCache built a new client, a new
connection pool and a new TCP connection to Redis for every request that touched the
cache: every throttled API call. The client (redis-py's pools are thread-safe, and
reset themselves in a forked child) is shared here by every instance with the same
servers and options.
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.cache.backends.redis import RedisCache
from django.utils.functional import cached_property

_clients: dict[tuple, Any] = {}
_lock = threading.Lock()


class SharedPoolRedisCache(RedisCache):
    @cached_property
    def _cache(self) -> Any:
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = self._class(self._servers, **self._options)
        return client
