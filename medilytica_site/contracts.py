"""The two contracts the web app's types are generated from (DESIGN.md sections 4, 5, 8).

* `openapi_document()`: the REST API, as `manage.py spectacular` makes it.
* `websocket_schema()`: one JSON Schema of every JSON socket's messages, generated with
  pydantic from the TypedDicts that declare them (`training/events.py`,
  `collaboration/events.py`). Each socket direction is a union discriminated by `type`
  under `$defs` (e.g. `TrainingServerMessage`), and the top-level `oneOf` lists them, so
  a TypeScript generator names `TrainingServerMessage = SnapshotMessage | ...`.
  `/ws/code/{room_id}` speaks binary Yjs, which JSON Schema does not describe.

`manage.py export_contracts` writes both as stable, pretty-printed JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from django.conf import settings

OPENAPI_FILE = Path("frontend/src/api/openapi.json")
WS_SCHEMA_FILE = Path("frontend/src/api/ws-schema.json")


def _streams() -> dict[str, tuple[str, str, Any]]:
    """Union name -> (socket path, direction, the declared type)."""
    from collaboration import events as collaboration
    from training import events as training

    run = "/ws/training/{run_id}"
    return {
        "TrainingServerMessage": (run, "server", training.TrainingServerMessage),
        "TrainingClientMessage": (run, "client", training.TrainingClientMessage),
        "ChatServerMessage": ("/ws/chat/{room_id}", "server", collaboration.ChatServerMessage),
        "ChatClientMessage": ("/ws/chat/{room_id}", "client", collaboration.ChatClientMessage),
        "NotificationMessage": ("/ws/notifications", "server", collaboration.NotificationMessage),
    }


def websocket_schema() -> dict[str, Any]:
    from pydantic import Field, TypeAdapter

    streams = _streams()
    inputs = []
    for name, (_path, _direction, declared) in streams.items():
        is_union = hasattr(declared, "__args__")
        # A union's members all have a literal `type`: let pydantic say so (discriminator).
        typed = Annotated[declared, Field(discriminator="type")] if is_union else declared
        inputs.append((name, "serialization", TypeAdapter(typed)))
    refs, document = TypeAdapter.json_schemas(inputs, ref_template="#/$defs/{model}")
    definitions = document.get("$defs", {})
    for (name, _mode), schema in refs.items():
        if set(schema) == {"$ref"}:  # one message type: the stream's name is an alias of it
            schema = {"oneOf": [schema]}
        definitions[name] = {"title": name, **schema}
    stream_refs = {name: f"#/$defs/{name}" for name in streams}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "medilytica-websockets",
        "title": "MediLyticaWebSocketMessage",
        "description": (
            "Every JSON text frame on MediLytica's sockets. Each socket and direction is a "
            "union discriminated by `type`; x-streams says which socket sends which. "
            "/ws/code/{room_id} speaks binary Yjs and is not described here."
        ),
        "oneOf": [{"$ref": stream_refs[name]} for name in streams],
        "x-streams": {
            name: {"path": path, "direction": direction, "$ref": stream_refs[name]}
            for name, (path, direction, _declared) in streams.items()
        },
        "$defs": dict(sorted(definitions.items())),
    }


def openapi_document() -> dict[str, Any]:
    from drf_spectacular.generators import SchemaGenerator

    generator = SchemaGenerator()
    return generator.get_schema(request=None, public=True)


def render(document: dict[str, Any]) -> str:
    """Stable text: sorted keys, two-space indent, a trailing newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def contract_files() -> dict[Path, str]:
    """Path under the repository root -> the text it should hold."""
    return {
        OPENAPI_FILE: render(json.loads(json.dumps(openapi_document(), default=str))),
        WS_SCHEMA_FILE: render(websocket_schema()),
    }


def repository_root() -> Path:
    return Path(settings.BASE_DIR)
