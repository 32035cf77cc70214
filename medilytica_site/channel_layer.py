"""channels_redis's pub/sub layer, with one task at a time on its subscriber connection.

`channels_redis.pubsub` (4.3) keeps one redis-py `PubSub` connection per shard. Consumers
subscribe on it under the shard's lock (their own channel on every handshake, then each
group they join); the shard's receive task reads it outside that lock. redis-py's async
connection is not safe for two tasks at once, yet both reconnect it by themselves: a
subscribe in `PubSub.execute_command`, a read in `PubSub.parse_response` and in its
retry's `_reconnect`. After a Redis restart a handshake's subscribe and the receive task's
next try (once a second) could reconnect together: each opened a socket, the later one
replaced the earlier, both read the HELLO reply from one stream, one got asyncio's
"readuntil() called while another coroutine is already waiting for incoming data", and
its clean-up closed the socket the other was reading ("Connection closed by server"). The
consumer raised before accepting, and daphne refused its client. A script that restarts
redis-server under a layer and subscribes at once hit it 4 times in 5 over a unix socket
and 5 in 5 over TCP, where the RuntimeError comes out bare: no redis-py retry catches it.

Here the receive task holds the shard's lock while it (re)connects and reads, and
subscribes and unsubscribes take turns with it: one that wants the lock cancels the read
in flight, a bare `Connection.read_response` that never reconnects and is safe to cancel
(its own timeout cancels it the same way when nothing comes). So a connect, the replies
it reads and every other read happen one at a time. Publishing goes through the layer's
pool of other connections and keeps a lock of its own, as before.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import contextmanager

from channels_redis.pubsub import (
    RedisPubSubChannelLayer as StockRedisPubSubChannelLayer,
)
from channels_redis.pubsub import (
    RedisPubSubLoopLayer,
    RedisSingleShardConnection,
)
from channels_redis.utils import _wrap_close
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

READ_SECONDS = 1.0  # a read with nothing to read ends, so that the loop looks around
RECONNECT_PAUSE = 0.5  # between tries while Redis is away; a subscribe may try sooner
CONNECTION_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)


class SubscriberShard(RedisSingleShardConnection):
    """A shard whose subscriber connection serves one task at a time (see above)."""

    def __init__(self, host, channel_layer):
        super().__init__(host, channel_layer)
        self._waiting = 0  # subscribes, unsubscribes and flushes waiting for the lock
        self._reading: asyncio.Task | None = None
        self._publish_lock = asyncio.Lock()

    @contextmanager
    def _their_turn(self):
        """Around a call that takes the lock: the receive task's read gives way to it."""
        self._waiting += 1
        if self._reading is not None:
            self._reading.cancel()
        try:
            yield
        finally:
            self._waiting -= 1

    async def subscribe(self, channel):
        with self._their_turn():
            await super().subscribe(channel)

    async def unsubscribe(self, channel):
        with self._their_turn():
            await super().unsubscribe(channel)

    async def flush(self):
        with self._their_turn():
            await super().flush()

    async def publish(self, channel, message):
        async with self._publish_lock:
            self._ensure_redis()
            await self._redis.publish(channel, message)

    async def _do_receiving(self):
        outage = False
        while True:
            if not (self._pubsub and self._pubsub.subscribed):
                await asyncio.sleep(0.1)
                continue
            try:
                async with self._lock:
                    message = None if self._waiting else await self._receive_one()
                if self._waiting:
                    # Their turn. Yield, whatever state they are in: one cancelled while
                    # it waited for the lock still counts until it runs its clean-up, and
                    # the lock, free of live waiters, would be taken again at once.
                    await asyncio.sleep(0)
                    continue
                self._receive_message(message)
            except CONNECTION_ERRORS as exc:
                if not outage:
                    logger.warning("channel layer: Redis subscriber connection lost: %s", exc)
                outage = True
                await asyncio.sleep(RECONNECT_PAUSE)
                continue
            except Exception:
                logger.exception("channel layer: unexpected error in the receive task")
                await asyncio.sleep(RECONNECT_PAUSE)
                continue
            if outage:
                logger.warning("channel layer: Redis subscriber connection restored")
                outage = False

    async def _receive_one(self):
        """One message, or None; called with the lock held."""
        pubsub = self._pubsub
        if pubsub.connection is None or not pubsub.connection.is_connected:
            await pubsub.connect()  # PubSub.on_connect subscribes to everything again
        connection = pubsub.connection
        self._reading = asyncio.ensure_future(
            connection.read_response(
                timeout=READ_SECONDS, disconnect_on_error=False, push_request=True
            )
        )
        try:
            await asyncio.wait({self._reading})
        finally:
            reading, self._reading = self._reading, None
            reading.cancel()  # only if this task itself was cancelled (by flush)
        if reading.cancelled():
            return None  # a subscribe's turn
        try:
            response = reading.result()
        except Exception:
            await connection.disconnect(nowait=True)  # reconnected on the next turn
            raise
        return await pubsub.handle_message(response, ignore_subscribe_messages=True)


class SubscriberLoopLayer(RedisPubSubLoopLayer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._shards = [SubscriberShard(shard.host, self) for shard in self._shards]


class RedisPubSubChannelLayer(StockRedisPubSubChannelLayer):
    """`channels_redis.pubsub.RedisPubSubChannelLayer` with `SubscriberShard`s; same
    settings (CONFIG), same behaviour but for the races above."""

    def _get_layer(self):
        loop = asyncio.get_running_loop()
        try:
            return self._layers[loop]
        except KeyError:
            layer = self._layers[loop] = SubscriberLoopLayer(
                *self._args, **self._kwargs, channel_layer=self
            )
            _wrap_close(self, loop)
            return layer
