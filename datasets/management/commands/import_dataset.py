"""manage.py import_dataset PATH --workspace ID_OR_NAME [--name ...] [--user USERNAME]"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from collaboration.models import Membership, Role, Workspace
from collaboration.selectors import role_allows, workspace_role
from datasets.services import INGEST_STAGES, DatasetRejected, dataset_ingest


class Command(BaseCommand):
    help = (
        "Import a CSV, TSV or Parquet file (optionally .gz) into a workspace, through the "
        "same checks, profiling and storage as an upload."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", help="The file to import.")
        parser.add_argument("--workspace", required=True, help="Workspace id or exact name.")
        parser.add_argument("--name", help="Dataset name (default: the file name).")
        parser.add_argument("--description", default="")
        parser.add_argument(
            "--user",
            help="Username recorded as the uploader; an owner or editor of the workspace "
            "(default: its first owner).",
        )

    def handle(self, *args, **options) -> None:
        path = Path(options["path"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file.")
        workspace = resolve_workspace(options["workspace"])
        user = resolve_user(workspace, options["user"])
        stream = getattr(self.stderr, "_out", sys.stderr)  # tqdm draws with \r, unwrapped
        with tqdm(
            total=len(INGEST_STAGES) - 1,
            desc=path.name,
            unit="step",
            file=stream,
            disable=options["verbosity"] == 0,
        ) as bar:

            def progress(stage: str) -> None:
                bar.n = INGEST_STAGES.index(stage)
                bar.set_postfix_str(stage)

            try:
                dataset = dataset_ingest(
                    user=user,
                    workspace=workspace,
                    source=path,
                    filename=path.name,
                    name=options["name"],
                    description=options["description"],
                    progress=progress,
                )
            except DatasetRejected as exc:
                raise CommandError(f"{path.name}: {exc.message}") from None
        flagged = [c["name"] for c in dataset.columns if c["likely_identifier"]]
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {dataset.name!r}: {dataset.rows} rows x {dataset.n_columns} columns "
                f"into {workspace.name!r} (id {dataset.pk})."
            )
        )
        if flagged:
            self.stdout.write(f"Likely identifiers (PHI): {', '.join(flagged)}")


def resolve_workspace(value: str) -> Workspace:
    try:
        by_id = Workspace.objects.filter(pk=uuid.UUID(value)).first()
    except ValueError:
        by_id = None
    if by_id is not None:
        return by_id
    named = list(Workspace.objects.filter(name=value))
    if not named:
        raise CommandError(f"--workspace: no workspace with id or name {value!r}.")
    if len(named) > 1:
        ids = ", ".join(str(w.pk) for w in named)
        raise CommandError(
            f"--workspace: {len(named)} workspaces are named {value!r}; use an id: {ids}"
        )
    return named[0]


def resolve_user(workspace: Workspace, username: str | None):
    if not username:
        owner = (
            Membership.objects.filter(workspace=workspace, role=Role.OWNER)
            .select_related("user")
            .first()
        )
        if owner is None:
            raise CommandError(f"Workspace {workspace.name!r} has no owner; pass --user.")
        return owner.user
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise CommandError(f"--user: no active user named {username!r}.")
    if not role_allows(workspace_role(user=user, workspace_id=workspace.pk), Role.EDITOR):
        raise CommandError(f"--user: {username!r} is not an owner or editor of {workspace.name!r}.")
    return user
