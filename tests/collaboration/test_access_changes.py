"""Access is re-checked on open sockets (DESIGN.md section 5, issue #15): removing a
member, lowering a role, deactivating a user, logging out and deleting the workspace
take effect within a second, and nothing sent after the change is stored or delivered."""

from __future__ import annotations

import asyncio
import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from pycrdt import Doc, Text, create_update_message

from collaboration import selectors, services, yjs
from collaboration.models import AuditEvent, ChatMessage, CodeUpdate, Role
from medilytica_site.asgi import application

from .conftest import ORIGIN, code_client, json_of_type, text_of, wait_until, ws_open

pytestmark = pytest.mark.django_db(transaction=True)

CLOSE_WAIT = 1.0 + 0.5  # the contract's second, and a margin for a loaded test machine


async def closed_within(ws: WebsocketCommunicator, seconds: float = CLOSE_WAIT) -> int:
    """The close code of a socket that must close within `seconds`; data frames before
    the close are skipped (a presence list, a snapshot)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            output = await ws.receive_output(timeout=max(deadline - time.monotonic(), 0.01))
        except TimeoutError:
            raise AssertionError(f"the socket was still open after {seconds} s") from None
        if output["type"] == "websocket.close":
            return output["code"]


async def db_until(read, timeout: float = 3, what: str = "condition"):
    """Poll a database read (run in a thread) until it is truthy; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        value = await database_sync_to_async(read)()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        await asyncio.sleep(0.02)


async def finish(ws: WebsocketCommunicator) -> None:
    """End the client's side. The consumer handles what was sent before in order, so
    once this returns every frame sent on `ws` has been stored or dropped."""
    await ws.disconnect()


@database_sync_to_async
def remove(team, member) -> None:
    services.membership_remove(workspace=team.workspace, user=team.owner, member_id=member.pk)


@database_sync_to_async
def set_role(team, member, role: str) -> None:
    services.membership_set(
        workspace=team.workspace, user=team.owner, username=member.username, role=role
    )


@database_sync_to_async
def deactivate(user) -> None:
    user.is_active = False
    user.save()


@database_sync_to_async
def delete_workspace(team) -> None:
    services.workspace_delete(workspace=team.workspace, user=team.owner)


@database_sync_to_async
def messages_by(user) -> list[str]:
    return list(ChatMessage.objects.filter(user=user).values_list("text", flat=True))


@database_sync_to_async
def updates_by(user) -> int:
    return CodeUpdate.objects.filter(user=user).count()


def denied(action: str, user):
    def read():
        return AuditEvent.objects.filter(
            action=action, user=user, outcome=AuditEvent.Outcome.DENIED
        ).exists()

    return read


@database_sync_to_async
def signed_in(user) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


async def ws_open_session(client: Client, path: str) -> WebsocketCommunicator:
    """A socket that rides the client's session cookie, as the web app's do."""
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    ws = WebsocketCommunicator(application, path, headers=[ORIGIN, (b"cookie", cookie.encode())])
    connected, _ = await ws.connect()
    assert connected
    return ws


@pytest.fixture
def access_messages_lost(monkeypatch):
    """As if every access message were lost on the way (Redis away for a moment)."""
    send = services._group_send

    def lossy(group: str, message: dict) -> None:
        if not group.startswith("access."):
            send(group, message)

    monkeypatch.setattr(services, "_group_send", lossy)


@pytest.fixture
def no_access_messages(access_messages_lost, settings):
    """Access messages lost, and no timer re-checking: only the stores' own checks hold."""
    settings.WS_ACCESS_RECHECK_SECONDS = 0


# --- chat -----------------------------------------------------------------------------------


async def test_a_removed_member_is_closed_4403_and_neither_posts_nor_hears(team, general):
    bob = await ws_open(team.editor, f"/ws/chat/{general.pk}")
    alice = await ws_open(team.owner, f"/ws/chat/{general.pk}")
    await json_of_type(bob, "history")
    await json_of_type(alice, "history")

    await remove(team, team.editor)
    assert await closed_within(bob) == 4403

    await alice.send_json_to({"type": "message", "text": "after bob left"})
    assert (await json_of_type(alice, "message"))["text"] == "after bob left"
    assert await bob.receive_nothing(timeout=0.2)  # nothing follows the close
    await bob.send_json_to({"type": "message", "text": "still here?"})
    await finish(bob)
    assert await messages_by(team.editor) == []
    await alice.disconnect()


async def test_a_message_is_checked_against_the_role_of_now_even_if_the_notice_is_lost(
    team, general, no_access_messages
):
    bob = await ws_open(team.editor, f"/ws/chat/{general.pk}")
    await json_of_type(bob, "history")
    await remove(team, team.editor)

    await bob.send_json_to({"type": "message", "text": "sent after removal"})
    assert await closed_within(bob) == 4403
    await finish(bob)
    assert await messages_by(team.editor) == []
    assert await database_sync_to_async(denied("chat.message", team.editor))()


async def test_a_deactivated_user_is_closed_4401(team, general):
    bob = await ws_open(team.editor, f"/ws/chat/{general.pk}")
    await json_of_type(bob, "history")
    await deactivate(team.editor)
    assert await closed_within(bob) == 4401
    await bob.send_json_to({"type": "message", "text": "ghost"})
    await finish(bob)
    assert await messages_by(team.editor) == []


async def test_deleting_the_workspace_closes_its_sockets_4403(team, general):
    chat = await ws_open(team.viewer, f"/ws/chat/{general.pk}")
    code = await ws_open(team.editor, f"/ws/code/{general.pk}")
    await json_of_type(chat, "history")
    await code.receive_from()  # sync step 1
    await delete_workspace(team)
    assert await closed_within(chat) == 4403
    assert await closed_within(code) == 4403
    await finish(chat)
    await finish(code)


async def test_logout_closes_the_sockets_of_that_session_and_ticket_sockets_4401(team, general):
    """A ticket does not record which sign-in minted it, so a logout closes every ticket
    socket of the user; cookie sockets of the user's other sessions stay open."""
    laptop, phone = await signed_in(team.editor), await signed_in(team.editor)
    on_laptop = await ws_open_session(laptop, f"/ws/chat/{general.pk}")
    on_phone = await ws_open_session(phone, f"/ws/chat/{general.pk}")
    by_ticket = await ws_open(team.editor, "/ws/notifications")
    await json_of_type(on_laptop, "history")
    await json_of_type(on_phone, "history")

    response = await database_sync_to_async(laptop.post)(
        "/api/auth/logout", {}, content_type="application/json"
    )
    assert response.status_code == 200
    assert await closed_within(on_laptop) == 4401
    assert await closed_within(by_ticket) == 4401

    await on_phone.send_json_to({"type": "message", "text": "from the phone"})
    assert (await json_of_type(on_phone, "message"))["text"] == "from the phone"
    for ws in (on_laptop, on_phone, by_ticket):
        await finish(ws)
    assert await messages_by(team.editor) == ["from the phone"]


async def test_without_any_notice_the_timer_closes_the_socket(
    team, general, settings, access_messages_lost
):
    """The safety net: access messages lost, or a change that sends none (update())."""
    settings.WS_ACCESS_RECHECK_SECONDS = 0.2
    bob = await ws_open(team.editor, f"/ws/chat/{general.pk}")
    carol = await ws_open(team.viewer, "/ws/notifications")
    await json_of_type(bob, "history")
    await remove(team, team.editor)
    await database_sync_to_async(
        lambda: type(team.viewer).objects.filter(pk=team.viewer.pk).update(is_active=False)
    )()
    assert await closed_within(bob) == 4403
    assert await closed_within(carol) == 4401
    await finish(bob)
    await finish(carol)


# --- code -----------------------------------------------------------------------------------


def an_update(text: str) -> bytes:
    doc = Doc()
    doc.get("code", type=Text).insert(0, text)
    return create_update_message(doc.get_update())


async def stored_text(room) -> str:
    return (await database_sync_to_async(selectors.code_document_text)(room=room))[0]


async def test_an_editor_made_viewer_is_refused_but_still_receives(team, general):
    chat = await ws_open(team.editor, f"/ws/chat/{general.pk}")
    await json_of_type(chat, "history")
    async with (
        code_client(team.owner, general.pk) as alice,
        code_client(team.editor, general.pk) as bob,
    ):
        await set_role(team, team.editor, Role.VIEWER)
        bob.get("code", type=Text).insert(0, "bob after demotion ")
        # Refused either by the socket, once it heard, or by the store: audited either way.
        await db_until(denied("code.edit", team.editor), what="the refusal")
        alice.get("code", type=Text).insert(0, "alice")
        await wait_until(lambda: "alice" in text_of(bob), timeout=3, what="bob hears alice")
    assert await stored_text(general) == "alice"
    assert await updates_by(team.editor) == 0
    # A viewer still chats (chat is talk, not an edit): that socket stays open.
    await chat.send_json_to({"type": "message", "text": "viewer now"})
    assert (await json_of_type(chat, "message"))["text"] == "viewer now"
    await chat.disconnect()


async def test_the_store_refuses_an_edit_whose_notice_was_lost(team, general, no_access_messages):
    bob = await ws_open(team.editor, f"/ws/code/{general.pk}")
    await bob.receive_from()  # sync step 1
    await set_role(team, team.editor, Role.VIEWER)
    await bob.send_to(bytes_data=an_update("first"))
    await db_until(denied("code.edit", team.editor), what="the refusal")
    await bob.send_to(bytes_data=an_update("second"))  # refused by the socket: read-only now
    # Each refusal is answered (y-protocols' "permission denied"), and the socket stays open.
    for _ in range(2):
        refusal = await bob.receive_from()
        assert refusal[:2] == bytes([yjs.MESSAGE_AUTH, 0]) and b"not edit it" in refusal
    assert await bob.receive_nothing(timeout=0.1)
    await finish(bob)
    assert await updates_by(team.editor) == 0
    assert await stored_text(general) == ""


async def test_a_removed_editor_is_closed_4403_and_neither_edits_nor_hears(team, general):
    bob = await ws_open(team.editor, f"/ws/code/{general.pk}")
    await bob.receive_from()
    await remove(team, team.editor)
    assert await closed_within(bob) == 4403

    async with code_client(team.owner, general.pk) as alice:
        alice.get("code", type=Text).insert(0, "alice alone")
        await wait_until(lambda: text_of(alice) == "alice alone")
        await db_until(lambda: CodeUpdate.objects.exists(), what="alice's edit stored")
    assert await bob.receive_nothing(timeout=0.2)
    await bob.send_to(bytes_data=an_update("bob after removal"))
    await finish(bob)
    assert await updates_by(team.editor) == 0
    assert await stored_text(general) == "alice alone"


async def test_a_removed_editor_whose_notice_was_lost_is_refused_by_the_store(
    team, general, no_access_messages
):
    bob = await ws_open(team.editor, f"/ws/code/{general.pk}")
    await bob.receive_from()
    await remove(team, team.editor)
    await bob.send_to(bytes_data=an_update("bob after removal"))
    assert await closed_within(bob) == 4403
    await finish(bob)
    assert await updates_by(team.editor) == 0


# --- notifications --------------------------------------------------------------------------


@database_sync_to_async
def notify(workspace, name: str) -> None:
    services.notify_workspace(
        type="dataset.uploaded",
        workspace_id=workspace.pk,
        object_id=workspace.pk,
        data={"name": name},
    )


async def test_notifications_follow_membership_without_a_reconnect(team):
    own = await database_sync_to_async(services.workspace_create)(user=team.editor, name="Bob's")
    ws = await ws_open(team.editor, "/ws/notifications")

    await remove(team, team.editor)
    await notify(team.workspace, "after removal")  # must not reach bob
    await notify(own, "his own")
    event = await ws.receive_json_from(timeout=CLOSE_WAIT)
    assert (event["workspace"], event["data"]["name"]) == (str(own.pk), "his own")

    await set_role(team, team.editor, Role.VIEWER)  # added back
    # The socket joins the group when it hears of the change: an event sent at the same
    # instant may come before that; one sent a moment later is heard.
    deadline = time.monotonic() + CLOSE_WAIT
    while await ws.receive_nothing(timeout=0.05):
        assert time.monotonic() < deadline, "a workspace joined later is still not heard"
        await notify(team.workspace, "after rejoining")
    event = await ws.receive_json_from()
    assert (event["workspace"], event["data"]["name"]) == (
        str(team.workspace.pk),
        "after rejoining",
    )
    await ws.disconnect()


async def test_notification_sockets_close_4401_on_deactivation(team):
    ws = await ws_open(team.viewer, "/ws/notifications")
    await deactivate(team.viewer)
    assert await closed_within(ws) == 4401
    await notify(team.workspace, "too late")
    assert await ws.receive_nothing(timeout=0.2)
    await finish(ws)


async def test_the_echo_socket_closes_4401_on_logout(team):
    client = await signed_in(team.viewer)
    ws = await ws_open_session(client, "/ws/echo")
    assert (await ws.receive_json_from())["type"] == "hello"
    await database_sync_to_async(client.post)(
        "/api/auth/logout", {}, content_type="application/json"
    )
    assert await closed_within(ws) == 4401
    await finish(ws)
