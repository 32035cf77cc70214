"""Access changes made by another process (a manage.py shell, as an admin or a worker
would) reach open sockets on two real daphne processes through the real Redis
channel layer within a second (DESIGN.md section 5)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import websockets

from ..live_stack import live_stack
from .test_live import SETUP, connect  # alice owns the workspace, bob edits, carol views

pytestmark = pytest.mark.integration

CHANGE = """
import time
from collaboration import services
from collaboration.models import Room
from django.contrib.auth import get_user_model
User = get_user_model()
workspace = Room.objects.get(pk="{room}").workspace
owner = User.objects.get(username="alice")
{change}
print(time.time())
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with live_stack(tmp_path_factory.mktemp("live-access"), daphnes=2) as stack:
        setup = json.loads(stack.shell(SETUP).strip().splitlines()[-1])
        stack.room, stack.cookies = setup["room"], setup["cookies"]
        yield stack


async def change(stack, code: str) -> float:
    """Run `code` in another process; returns the time its transaction had committed."""
    script = CHANGE.format(room=stack.room, change=code)
    out = await asyncio.to_thread(stack.shell, script)
    return float(out.strip().splitlines()[-1])


async def closed(ws) -> tuple[int, float]:
    """The close code and when it came (read as frames arrive, not after the change's
    process has exited)."""
    try:
        while True:
            await ws.recv()
    except websockets.ConnectionClosed:
        return ws.close_code, time.time()


async def closed_after(stack, sockets, code: str) -> list[tuple[int, float]]:
    """Make the change in another process; each socket's close code, and the seconds
    from the change's commit to its close."""
    watchers = [asyncio.create_task(closed(ws)) for ws in sockets]
    committed = await change(stack, code)
    done = await asyncio.wait_for(asyncio.gather(*watchers), 10)
    return [(close_code, at - committed) for close_code, at in done]


async def test_removal_and_deactivation_close_sockets_on_every_server(stack):
    chat, code = f"/ws/chat/{stack.room}", f"/ws/code/{stack.room}"
    async with (
        connect(stack, 0, "bob", chat) as bob_chat,
        connect(stack, 1, "bob", code) as bob_code,
        connect(stack, 1, "carol", chat) as carol_chat,
        connect(stack, 0, "carol", "/ws/notifications") as carol_notes,
    ):
        # Open means subscribed: a socket joins its user's access group before its
        # handshake is accepted (WorkspaceMemberMixin.connect).
        removal = await closed_after(
            stack,
            [bob_chat, bob_code],
            "bob = User.objects.get(username='bob')\n"
            "services.membership_remove(workspace=workspace, user=owner, member_id=bob.pk)",
        )
        deactivation = await closed_after(
            stack,
            [carol_chat, carol_notes],
            "carol = User.objects.get(username='carol')\ncarol.is_active = False\ncarol.save()",
        )
    print("change to close, seconds:", [round(s, 3) for _, s in removal + deactivation])
    assert [close_code for close_code, _ in removal] == [4403, 4403]
    assert [close_code for close_code, _ in deactivation] == [4401, 4401]
    assert all(seconds <= 1.5 for _, seconds in removal + deactivation)  # 1 s and a margin
