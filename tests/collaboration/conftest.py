"""Fixtures and clients for the collaboration sockets: a ticket-authenticated
communicator per user, and a pycrdt Provider that speaks y-websocket through it."""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from pycrdt import Doc, Provider, Text

from collaboration.models import Role, Room
from medilytica_site.asgi import application
from medilytica_site.services import ws_ticket_issue

from ..factories import MembershipFactory, UserFactory

ORIGIN = (b"origin", b"http://localhost")


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """The in-memory layer outlives a test; no group or queue may leak into the next."""
    layer = get_channel_layer()
    async_to_sync(layer.flush)()
    yield
    async_to_sync(layer.flush)()


@pytest.fixture
def general(team) -> Room:
    return Room.objects.get(workspace=team.workspace, name=Room.GENERAL)


@pytest.fixture
def members(team):
    """`members(n)`: n more editors of the team workspace."""

    def make(n: int, role: str = Role.EDITOR) -> list:
        users = [UserFactory(username=f"member{i}") for i in range(n)]
        for user in users:
            MembershipFactory(workspace=team.workspace, user=user, role=role)
        return users

    return make


async def ws_open(user, path: str) -> WebsocketCommunicator:
    """A socket to `path`, authenticated with a fresh ticket (anonymous for None)."""
    if user is not None:
        ticket = await database_sync_to_async(ws_ticket_issue)(user=user)
        path = f"{path}?ticket={ticket}"
    communicator = WebsocketCommunicator(application, path, headers=[ORIGIN])
    communicator.scope["client"] = ["127.0.0.1", 50000]  # the peer, as daphne gives it
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def json_of_type(ws: WebsocketCommunicator, type_: str, timeout: float = 3) -> dict:
    """The next JSON frame of this type; frames of other types are skipped."""
    deadline = time.monotonic() + timeout
    while True:
        frame = await ws.receive_json_from(timeout=max(deadline - time.monotonic(), 0.01))
        if frame["type"] == type_:
            return frame


async def wait_until(predicate, timeout: float = 5, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        await asyncio.sleep(0.01)


class CommunicatorChannel:
    """pycrdt's Channel protocol over a test communicator: binary frames only."""

    def __init__(self, communicator: WebsocketCommunicator, path: str = "code"):
        self.communicator = communicator
        self._path = path

    @property
    def path(self) -> str:
        return self._path

    def __aiter__(self):
        return self

    async def __anext__(self) -> bytes:
        return await self.recv()

    async def send(self, message: bytes) -> None:
        await self.communicator.send_to(bytes_data=message)

    async def recv(self) -> bytes:
        while True:
            # receive_output cancels the application when it times out; wait long.
            output = await self.communicator.receive_output(timeout=3600)
            if output["type"] == "websocket.close":
                raise StopAsyncIteration
            if output.get("bytes"):
                return output["bytes"]


@asynccontextmanager
async def code_client(user, room_id, doc: Doc | None = None):
    """A pycrdt document synced with the room's code through /ws/code/{room_id}."""
    ws = await ws_open(user, f"/ws/code/{room_id}")
    doc = doc if doc is not None else Doc()
    doc.get("code", type=Text)
    provider = Provider(doc, CommunicatorChannel(ws))
    async with provider:
        await asyncio.wait_for(provider.synced.wait(), 3)
        yield doc
    await ws.disconnect()


def text_of(doc: Doc) -> str:
    return str(doc.get("code", type=Text))
