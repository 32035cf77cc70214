"""`manage.py export_contracts [--check]`: write the web app's two contracts.

frontend/src/api/openapi.json (the OpenAPI schema, as `manage.py spectacular --format
openapi-json` makes it) and frontend/src/api/ws-schema.json (the WebSocket messages), as
stable JSON: the frontend generates its TypeScript types from them. `--check` writes
nothing and fails, naming each stale file, when they differ from the code (CI).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from medilytica_site.contracts import contract_files, repository_root


class Command(BaseCommand):
    help = "Write (or with --check, verify) frontend/src/api/openapi.json and ws-schema.json."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="Write nothing; exit non-zero when a committed file differs from the code.",
        )

    def handle(self, *args, check: bool = False, **options) -> None:
        root = repository_root()
        stale = []
        for relative, text in contract_files().items():
            path = root / relative
            current = path.read_text(encoding="utf-8") if path.exists() else None
            if current == text:
                continue
            if check:
                stale.append(str(relative))
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            self.stdout.write(f"wrote {relative}")
        if stale:
            raise CommandError(
                f"stale: {', '.join(stale)}; run `manage.py export_contracts` and commit them."
            )
        if check:
            self.stdout.write("contracts are up to date")
