"""Hostile input (issue #8, item 4): shared fixtures of the security suite."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from collaboration.models import Room


@pytest.fixture
def general(team) -> Room:
    return Room.objects.get(workspace=team.workspace, name=Room.GENERAL)


@pytest.fixture
def fresh_channel_layer():
    """The in-memory layer outlives a test; no group or queue may leak into the next."""
    layer = get_channel_layer()
    async_to_sync(layer.flush)()
    yield layer
    async_to_sync(layer.flush)()


def files_under(root) -> set[str]:
    """Every file below `root`, as paths relative to it."""
    from pathlib import Path

    root = Path(root)
    return (
        {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
        if root.exists()
        else set()
    )
