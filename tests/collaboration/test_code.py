"""/ws/code/{room_id}: y-websocket's sync and awareness protocol. pycrdt clients
typing at once converge with every keystroke kept; the database holds the document
(a snapshot plus the update log), so reconnects, restarts and late joiners lose nothing."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from pycrdt import (
    Doc,
    Text,
    create_awareness_message,
    create_sync_message,
    create_update_message,
)

from collaboration import consumers, yjs
from collaboration.models import AuditEvent, CodeDocument, CodeUpdate
from collaboration.selectors import code_document_text
from collaboration.services import code_update_append

from .conftest import code_client, text_of, wait_until, ws_open

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def stored_text(room) -> str:
    return code_document_text(room=room)[0]


async def until_stored(room, text: str, timeout: float = 5) -> None:
    """Wait until the room's stored document reads `text` (its log writer is behind
    the socket), instead of sleeping a fixed time."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (stored := await stored_text(room)) != text:
        assert asyncio.get_running_loop().time() < deadline, f"stored: {stored!r}"
        await asyncio.sleep(0.02)


async def type_tokens(doc: Doc, tokens: list[str], at: int = 1) -> None:
    """Insert each token at the same index, one transaction (one update) per token."""
    text = doc.get("code", type=Text)
    for token in tokens:
        text.insert(min(at, len(text)), token)
        await asyncio.sleep(0)


def assert_has_every_token(text: str, tokens: list[str]) -> None:
    missing = [t for t in tokens if text.count(t) != 1]
    assert not missing, f"lost or doubled: {missing[:5]} in {text!r}"


@pytest.mark.parametrize("clients", [2, 5])
async def test_concurrent_typing_at_one_spot_converges_keeping_every_insert(
    team, general, members, clients
):
    users = await database_sync_to_async(members)(clients)
    async with code_client(team.owner, general.pk) as seed:
        seed.get("code", type=Text).insert(0, "<>")
    tokens = {u.username: [f"[{u.username}:{k}]" for k in range(8)] for u in users}

    async def session(user, ready: asyncio.Event, docs: dict):
        async with code_client(user, general.pk) as doc:
            docs[user.username] = doc
            await ready.wait()
            await type_tokens(doc, tokens[user.username])
            every = [t for ts in tokens.values() for t in ts]
            await wait_until(
                lambda: (
                    all(len(text_of(d)) == 2 + sum(map(len, every)) for d in docs.values())
                    and len(docs) == clients
                ),
                timeout=10,
                what="convergence",
            )

    ready, docs = asyncio.Event(), {}
    tasks = [asyncio.create_task(session(u, ready, docs)) for u in users]
    await wait_until(lambda: len(docs) == clients, what="all connected")
    ready.set()
    await asyncio.gather(*tasks)

    texts = {text_of(d) for d in docs.values()}
    assert len(texts) == 1
    (final,) = texts
    assert final.startswith("<") and final.endswith(">")
    assert_has_every_token(final, [t for ts in tokens.values() for t in ts])
    assert await stored_text(general) == final


async def test_late_joiner_gets_the_whole_document(team, general):
    async with code_client(team.owner, general.pk) as doc:
        doc.get("code", type=Text).insert(0, "import pandas as pd\n")
        await until_stored(general, "import pandas as pd\n")
    async with code_client(team.editor, general.pk) as doc:
        doc.get("code", type=Text).insert(len(text_of(doc)), "df = pd.read_csv('x')\n")
        await until_stored(general, "import pandas as pd\ndf = pd.read_csv('x')\n")
    async with code_client(team.viewer, general.pk) as late:
        await wait_until(lambda: text_of(late).count("\n") == 2)
        assert text_of(late) == "import pandas as pd\ndf = pd.read_csv('x')\n"


async def test_offline_edits_merge_on_reconnect(team, general):
    offline = Doc()
    async with code_client(team.owner, general.pk, doc=offline):
        offline.get("code", type=Text).insert(0, "shared\n")
        await until_stored(general, "shared\n")
    offline.get("code", type=Text).insert(0, "# written offline\n")  # nobody hears of it yet
    async with code_client(team.editor, general.pk) as online:
        online.get("code", type=Text).insert(len(text_of(online)), "online edit\n")
        async with code_client(team.owner, general.pk, doc=offline):
            await wait_until(
                lambda: text_of(offline) == text_of(online) and "offline" in text_of(online),
                what="merge",
            )
    assert text_of(offline) == "# written offline\nshared\nonline edit\n"
    assert await stored_text(general) == text_of(offline)


async def test_a_server_restart_between_edits_loses_nothing(team, general, settings):
    settings.CODE_COMPACT_EVERY = 5  # fold the log into snapshots along the way
    expected = ""
    for round_ in range(4):
        # Every round is a fresh server: new consumers, nothing kept in memory.
        async with code_client(team.editor, general.pk) as doc:
            assert text_of(doc) == expected
            for k in range(4):
                line = f"round {round_} line {k}\n"
                doc.get("code", type=Text).insert(len(text_of(doc)), line)
                expected += line
            await until_stored(general, expected)
    assert await stored_text(general) == expected

    @database_sync_to_async
    def log_state():
        document = CodeDocument.objects.get(room=general)
        return document.snapshot_seq, document.last_seq, CodeUpdate.objects.count()

    snapshot_seq, last_seq, rows = await log_state()
    assert snapshot_seq > 0 and rows <= 2 * 5 and last_seq >= 16


async def test_viewer_receives_updates_but_cannot_edit(team, general):
    async with (
        code_client(team.editor, general.pk) as editor,
        code_client(team.viewer, general.pk) as viewer,
    ):
        viewer.get("code", type=Text).insert(0, "VIEWER WAS HERE")
        await asyncio.sleep(0.1)
        editor.get("code", type=Text).insert(0, "editor text")
        await wait_until(lambda: "editor text" in text_of(viewer), what="viewer update")
        await asyncio.sleep(0.1)
        assert text_of(editor) == "editor text"
    assert await stored_text(general) == "editor text"
    denied = await database_sync_to_async(
        lambda: list(
            AuditEvent.objects.filter(action="code.edit")
            .order_by("outcome")
            .values_list("outcome", "username")
        )
    )()
    # The editor's edits: one row for the socket; the viewer's refusal: one row.
    assert denied == [("denied", "carol"), ("success", "bob")]


async def test_a_lost_relay_is_filled_in_from_the_log(team, general, monkeypatch):
    monkeypatch.setattr(consumers, "GAP_WAIT", 0.05)
    source = Doc()
    source.get("code", type=Text).insert(0, "stored, never relayed ")

    async with code_client(team.viewer, general.pk) as viewer:
        # Stored as the server would, but its notice never reaches the group.
        await database_sync_to_async(code_update_append)(
            room_id=general.pk, user=team.owner, data=source.get_update()
        )
        async with code_client(team.editor, general.pk) as editor:
            editor.get("code", type=Text).insert(len(text_of(editor)), "then relayed")
            await wait_until(lambda: text_of(viewer) == "stored, never relayed then relayed")


async def test_echoed_updates_are_not_stored_twice(team, general):
    async with code_client(team.editor, general.pk) as a, code_client(team.owner, general.pk) as b:
        a.get("code", type=Text).insert(0, "once")
        await wait_until(lambda: text_of(b) == "once")
        await asyncio.sleep(0.2)  # pycrdt's Provider sends what it received back
    assert await database_sync_to_async(CodeUpdate.objects.count)() == 1


async def test_raw_y_websocket_frames_and_awareness(team, general):
    """The wire as y-websocket speaks it, without pycrdt's Provider."""
    alice = await ws_open(team.editor, f"/ws/code/{general.pk}")
    step1 = await alice.receive_from()
    assert step1[:2] == b"\x00\x00"  # sync step 1 from the server first
    doc = Doc()
    await alice.send_to(bytes_data=create_sync_message(doc))
    assert (await alice.receive_from())[:2] == b"\x00\x01"  # step 2 in reply

    doc.get("code", type=Text).insert(0, "hello")
    await alice.send_to(bytes_data=create_update_message(doc.get_update()))
    cursor = yjs.awareness_payload([(doc.client_id, 1, '{"user":{"name":"bob"}}')])
    await alice.send_to(bytes_data=create_awareness_message(cursor))
    await alice.send_to(text_data="ignored")  # text frames are not part of the protocol
    await alice.send_to(bytes_data=b"\x00\x02\x05ab")  # truncated update: dropped

    carol = await ws_open(team.viewer, f"/ws/code/{general.pk}")
    frames = [await carol.receive_from() for _ in range(2)]
    step1, awareness = sorted(frames)
    assert step1[:2] == b"\x00\x00"
    entries = yjs.awareness_entries(yjs.read_payload(awareness, 1))
    assert entries == [(doc.client_id, 1, '{"user":{"name":"bob"}}')]  # late joiner sees bob

    await alice.disconnect()
    gone = yjs.awareness_entries(yjs.read_payload(await carol.receive_from(), 1))
    assert gone == [(doc.client_id, 2, "null")]
    await carol.disconnect()
    assert await stored_text(general) == "hello"
