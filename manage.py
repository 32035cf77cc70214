#!/usr/bin/env python
"""Django's command-line utility for MediLytica."""

import os
import sys
from pathlib import Path


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medilytica_site.settings")
    from medilytica_site.local_redis import use_running_redis

    use_running_redis(Path(__file__).resolve().parent)  # the Redis of a running `make run`
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
