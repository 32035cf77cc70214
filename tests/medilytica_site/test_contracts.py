"""The web app's contracts: frontend/src/api/openapi.json and ws-schema.json are what the
code says (`manage.py export_contracts --check`), and the WebSocket schema has one
union per socket direction that real messages validate against."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import jsonschema
import pytest
from django.core.management import CommandError, call_command

from collaboration.events import workspace_event
from medilytica_site import contracts
from training.events import MESSAGE_TYPES, metrics_message

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def ws_schema():
    return contracts.websocket_schema()


def test_committed_contract_files_are_up_to_date():
    call_command("export_contracts", "--check")  # raises, naming the stale file


def test_check_names_the_stale_file_and_writing_fixes_it(tmp_path, monkeypatch):
    monkeypatch.setattr(contracts, "repository_root", lambda: tmp_path)
    monkeypatch.setattr(
        "medilytica_site.management.commands.export_contracts.repository_root", lambda: tmp_path
    )
    call_command("export_contracts")
    written = tmp_path / contracts.WS_SCHEMA_FILE
    assert written.read_text().endswith("}\n")
    written.write_text("{}\n")
    with pytest.raises(CommandError, match="ws-schema.json") as refused:
        call_command("export_contracts", "--check")
    assert "openapi.json" not in str(refused.value)
    call_command("export_contracts")
    call_command("export_contracts", "--check")


def test_openapi_file_is_spectacular_output_with_sorted_keys(tmp_path):
    call_command("spectacular", "--format", "openapi-json", "--file", str(tmp_path / "s.json"))
    committed = (contracts.repository_root() / contracts.OPENAPI_FILE).read_text()
    assert json.loads(committed) == json.loads((tmp_path / "s.json").read_text())
    assert committed == json.dumps(json.loads(committed), indent=2, sort_keys=True) + "\n"


def test_each_socket_direction_is_a_union_discriminated_by_type(ws_schema):
    defs = ws_schema["$defs"]
    assert {s["$ref"] for s in ws_schema["oneOf"]} == {
        f"#/$defs/{name}" for name in ws_schema["x-streams"]
    }
    training = defs["TrainingServerMessage"]
    assert training["discriminator"]["propertyName"] == "type"
    assert set(training["discriminator"]["mapping"]) == set(MESSAGE_TYPES)
    chat = defs["ChatServerMessage"]["discriminator"]["mapping"]
    assert set(chat) == {"history", "presence", "message", "typing", "error"}
    assert set(defs["ChatClientMessage"]["discriminator"]["mapping"]) == {"message", "typing"}
    paths = {s["path"] for s in ws_schema["x-streams"].values()}
    assert paths == {"/ws/training/{run_id}", "/ws/chat/{room_id}", "/ws/notifications"}
    # No loose objects left: a snapshot's history is metrics messages, its progress typed.
    snapshot = defs["SnapshotMessage"]["properties"]
    assert snapshot["history"]["items"] == {"$ref": "#/$defs/MetricsMessage"}
    assert snapshot["progress"] == {"$ref": "#/$defs/RunProgress"}


def valid(ws_schema, name: str, message) -> bool:
    schema = {**ws_schema["$defs"][name], "$defs": ws_schema["$defs"]}
    try:
        jsonschema.validate(message, schema, cls=jsonschema.Draft202012Validator)
    except jsonschema.ValidationError:
        return False
    return True


def test_real_messages_validate_and_wrong_ones_do_not(ws_schema):
    now = datetime.now(UTC)
    metrics = metrics_message(
        seq=1, epoch=1, values={"loss": 0.5, "val_mae": 2.0}, timestamp=now.isoformat()
    )
    snapshot = {
        "type": "snapshot",
        "status": "running",
        "seq": 1,
        "progress": {"epoch": 1, "total_epochs": 5, "fraction": 0.2},
        "history": [metrics],
    }
    completed = {
        "type": "completed",
        "results": {
            "status": "succeeded",
            "task": "classification",
            "metrics": {"accuracy": 0.9, "per_class": {"a": _class_metrics()}},
            "model": None,
        },
    }
    for message in (metrics, snapshot, completed, {"type": "pong"}):
        assert valid(ws_schema, "TrainingServerMessage", message), message
    assert not valid(ws_schema, "TrainingServerMessage", {**snapshot, "status": "lost"})
    assert not valid(ws_schema, "TrainingServerMessage", {"type": "nope"})
    event = workspace_event(
        type="run.completed", workspace_id="w", object_id="o", data={"name": "r"}, time=now
    )
    assert valid(ws_schema, "NotificationMessage", event)
    assert valid(ws_schema, "ChatClientMessage", {"type": "message", "text": "hi"})
    assert not valid(ws_schema, "ChatClientMessage", {"type": "message"})


def _class_metrics():
    return {"precision": 1.0, "recall": None, "f1": 0.5, "support": 3}
