"""Health: `GET /api/health` (can this process reach the database, the channel layer and
the workers?), and for load balancers `GET /api/health/live` (the process answers) and
`GET /api/health/ready` (it can serve: database and channel layer; workers reported but
never failing it, since stalled training is no reason to pull a web process)."""

from __future__ import annotations

import asyncio
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

logger = logging.getLogger(__name__)


def check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return "ok"
    except Exception as exc:  # noqa: BLE001 - any failure is "down"; the reason is logged
        logger.warning("health: database check failed: %s", exc)
        return "down"


async def _layer_round_trip() -> str:
    layer = get_channel_layer()
    if layer is None:
        return "not configured"
    channel = await layer.new_channel("health.")
    await layer.send(channel, {"type": "health.ping"})
    message = await asyncio.wait_for(layer.receive(channel), timeout=2)
    return "ok" if message.get("type") == "health.ping" else "down"


def check_channel_layer() -> str:
    """Redis answers (the pub/sub layer has no way to drop a probe channel once it
    has subscribed to it, so a round trip per probe would leak subscriptions);
    the in-memory layer of a single process gets a real round trip."""
    try:
        if settings.REDIS_URL:
            import redis

            client = redis.Redis.from_url(
                settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2
            )
            try:
                return "ok" if client.ping() else "down"
            finally:
                client.close()
        return async_to_sync(_layer_round_trip)()
    except Exception as exc:  # noqa: BLE001
        logger.warning("health: channel layer check failed: %s", exc)
        return "down"


def check_workers() -> dict:
    """Alive django-q2 clusters and their worker processes, as the broker reports them."""
    from django_q.conf import Conf
    from django_q.status import Stat

    if Conf.SYNC:
        return {"status": "sync", "clusters": 0, "workers": 0}
    try:
        clusters = [c for c in Stat.get_all() if c.status != "Stopped"]
    except Exception as exc:  # noqa: BLE001
        logger.warning("health: worker check failed: %s", exc)
        return {"status": "down", "clusters": 0, "workers": 0}
    workers = sum(len(c.workers) for c in clusters)
    # A cluster reports itself before its worker processes are up (and while it
    # replaces them): with no worker nothing trains, so that is not "ok" yet.
    return {"status": "ok" if workers else "down", "clusters": len(clusters), "workers": workers}


class WorkersSerializer(serializers.Serializer):
    status = serializers.CharField()
    clusters = serializers.IntegerField()
    workers = serializers.IntegerField()


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "degraded"])
    database = serializers.CharField()
    channel_layer = serializers.CharField()
    workers = WorkersSerializer()


class LiveSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok"])


class ProbeView(APIView):
    """Anyone may probe, without a session, a token or a throttle."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = []


def _parts() -> dict:
    return {
        "database": check_database(),
        "channel_layer": check_channel_layer(),
        "workers": check_workers(),
    }


def _serves(body: dict) -> bool:
    return body["database"] == "ok" and body["channel_layer"] == "ok"


class HealthView(ProbeView):
    """Everything at once: 200 when every part answers, 503 otherwise (for alerting)."""

    @extend_schema(responses={200: HealthSerializer, 503: HealthSerializer})
    def get(self, request):
        body = _parts()
        healthy = _serves(body) and body["workers"]["status"] in ("ok", "sync")
        body["status"] = "ok" if healthy else "degraded"
        return Response(body, status=200 if healthy else 503)


class LiveView(ProbeView):
    """The process answers requests: 200 always, touching nothing else (a restart is
    what a failed liveness probe asks for, and no database outage needs one)."""

    @extend_schema(responses={200: LiveSerializer})
    def get(self, request):
        return Response({"status": "ok"})


class ReadyView(ProbeView):
    """This process can serve: 200 when the database and the channel layer answer, 503
    otherwise. Workers are reported, never failing it: stalled training is something
    to alert on, not a reason to take web processes out of the pool."""

    @extend_schema(responses={200: HealthSerializer, 503: HealthSerializer})
    def get(self, request):
        body = _parts()
        ready = _serves(body)
        body["status"] = "ok" if ready else "degraded"
        return Response(body, status=200 if ready else 503)
