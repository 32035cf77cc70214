"""Wait until the database and Redis answer, so processes started together start in order."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection


class Command(BaseCommand):
    help = "Wait (up to --timeout seconds) for the database and REDIS_URL to answer."

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=60.0)

    def handle(self, *args, **options):
        deadline = time.monotonic() + options["timeout"]
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            try:
                connection.ensure_connection()
                if settings.REDIS_URL:
                    import redis

                    redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1).ping()
                return
            except Exception as exc:  # noqa: BLE001 - keep waiting on any connection error
                last_error = exc
                connection.close()
                time.sleep(0.2)
        raise CommandError(f"Services did not come up within {options['timeout']}s: {last_error}")
