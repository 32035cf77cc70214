"""Schemathesis against the live API: every operation of the OpenAPI schema, fuzzed
with a signed-in user who owns real objects, through every phase (examples, coverage,
fuzzing, and stateful sequences over the links schemathesis infers from the schema).

No response may be a 5xx, and every response must be one its operation documents:
status code, media type, headers and body schema. A failure prints schemathesis' own
report, with a curl line for each finding.

Each run is bounded: `--max-examples` per operation and `--max-time` for the run
(schemathesis spreads that budget over its phases and stops when it is spent); the
stateful phase runs on its own, so that a loaded machine cannot starve it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.live_stack import live_database, live_stack, upload_dataset

pytestmark = pytest.mark.integration

PASSWORD = "a-long-enough-pass-42"
STATELESS_SECONDS = 24
STATEFUL_SECONDS = 12
MAX_EXAMPLES = 25
SEED = 20261127

# Responses are judged by these. schemathesis' `negative_data_rejection` and
# `positive_data_acceptance` are left out: they take every 400 for a schema-valid body as
# a bug, and ours are business rules no schema can state (an unknown target column, a
# taken username, the last owner leaving a workspace); each 400 still has to match its
# documented shape through `response_schema_conformance`.
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "ignored_auth",
    "use_after_free",
    "ensure_resource_availability",
    "unsupported_method",
    "missing_required_header",
]

CSV = "age,bmi,sex,outcome\n" + "\n".join(
    f"{30 + i % 40},{20 + i % 10}.5,{'FM'[i % 2]},{'ab'[(i // 3) % 2]}" for i in range(60)
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    directory = tmp_path_factory.mktemp("api-fuzz")
    with live_database(directory) as database_url:
        env = {
            "DATABASE_URL": database_url,
            "JWT_ACCESS_MINUTES": "60",
            # Throttles would answer most fuzzed requests with a (documented) 429 and
            # leave the views behind them untested.
            "THROTTLE_USER": "100000/minute",
            "THROTTLE_ANON": "100000/minute",
            "THROTTLE_LOGIN": "100000/minute",
        }
        # The qcluster trains the seeded run and makes /api/health a healthy 200.
        with live_stack(directory, daphnes=1, qcluster=True, env=env) as s:
            yield s


@pytest.fixture(scope="module")
def seeded(stack):
    return seed(stack.http_urls[0])


def seed(base_url: str) -> dict:
    """A user who owns a workspace with a dataset, a room, a finished run and its
    registered model, plus spare objects that the fuzzed DELETEs may destroy."""
    client = httpx.Client(base_url=base_url, timeout=30)
    register = client.post("/api/auth/register", json={"username": "fuzz", "password": PASSWORD})
    assert register.status_code == 201, register.text
    tokens = client.post("/api/auth/token", json={"username": "fuzz", "password": PASSWORD})
    assert tokens.status_code == 200, tokens.text
    client.headers["Authorization"] = f"Bearer {tokens.json()['access']}"

    def created(response: httpx.Response, status: int = 201) -> dict:
        assert response.status_code == status, response.text
        return response.json()

    def upload(name: str) -> dict:
        dataset = upload_dataset(client, f"{name}.csv", CSV.encode(), name=name)
        assert dataset["status"] == "ready", dataset
        return dataset

    workspace = register.json()["workspaces"][0]["id"]
    dataset = upload("cohort")
    # Started first: the worker trains while the other objects are made.
    runs = [
        created(
            client.post(
                "/api/train/start",
                json={
                    "dataset": dataset["id"],
                    "target": "outcome",
                    "positive_class": "b",
                    "model_type": model_type,
                    "hyperparameters": hyper,
                },
            ),
            202,
        )
        for model_type, hyper in [
            # Boosting reports a metric per stage (a history) and has a graph; no
            # network, so the worker need not import torch (seconds, on a busy machine).
            ("gradient_boosting", {"max_iter": 5}),
            ("logistic_regression", {}),
        ]
    ]
    spare_workspace = created(client.post("/api/workspaces", json={"name": "spare"}))
    spare_dataset = upload("spare")
    room = created(client.post("/api/rooms", json={"name": "lab"}))
    finished = [_finished(client, run["id"]) for run in runs]
    for run in finished:
        assert run["status"] == "succeeded", run
    models = [client.get(f"/api/train/results/{run['id']}").json()["model"]["id"] for run in runs]
    alias = client.post(f"/api/models/{models[0]}/aliases", json={"alias": "production"})
    assert alias.status_code == 200, alias.text
    client.close()
    return {
        "token": tokens.json()["access"],
        "workspace": workspace,
        "spare_workspace": spare_workspace["id"],
        "dataset": dataset["id"],
        "spare_dataset": spare_dataset["id"],
        "room": room["id"],
        "run": runs[0]["id"],
        "model": models[0],
        "spare_model": models[1],
    }


def _finished(client: httpx.Client, run_id: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(f"/api/train/status/{run_id}").json()
        if run["status"] in ("succeeded", "failed", "stopped"):
            return run
        time.sleep(0.5)
    raise TimeoutError(f"run {run_id} still {run['status']} after {timeout} s")


def fuzz_config(ids: dict) -> str:
    """schemathesis.toml: real ids offered, beside generated ones, to every operation on
    an object, so that the 200 answers (and their bodies) are fuzzed too, not only 404s.
    The DELETEs get the spare objects only, so the rest of the run keeps its own."""

    def offer(methods: str, path_regex: str, **parameters: str) -> str:
        # One regex over the operation's name ("GET /api/data/{id}/"): separate method
        # and path filters would select the operations that match either of them.
        bound = ", ".join(
            f'"{name}" = {{ dictionary = "{dictionary}", probability = 0.5 }}'
            for name, dictionary in parameters.items()
        )
        return (
            "[[operations]]\n"
            f"include-name-regex = '^({methods}) {path_regex}'\n"
            f"parameters = {{ {bound} }}\n"
        )

    keep = "GET|POST|PATCH"
    dictionaries = {
        "workspaces": [ids["workspace"]],
        "datasets": [ids["dataset"]],
        "rooms": [ids["room"]],
        "runs": [ids["run"]],
        "models": [ids["model"]],
        "spare_workspaces": [ids["spare_workspace"]],
        "spare_datasets": [ids["spare_dataset"]],
        "spare_models": [ids["spare_model"]],
        "aliases": ["production"],
    }
    lines = [
        f"[dictionaries.{name}]\nvalues = {json.dumps(values)}\n"
        for name, values in dictionaries.items()
    ]
    # Where several entries select an operation, schemathesis takes the first: the
    # creates that name an object in their body come before the entries for paths.
    lines += [
        offer("POST", "/api/train/start/", **{"body.dataset": "datasets"}),
        offer(
            "POST", "/api/(rooms|data/upload|models/upload)/", **{"body.workspace": "workspaces"}
        ),
        offer(keep, "/api/workspaces/", **{"path.id": "workspaces"}),
        offer("DELETE", "/api/workspaces/{id}/$", **{"path.id": "spare_workspaces"}),
        offer("DELETE", "/api/workspaces/{id}/members/", **{"path.id": "workspaces"}),
        offer(keep, "/api/data/", **{"path.id": "datasets"}),
        offer("DELETE", "/api/data/", **{"path.id": "spare_datasets"}),
        offer(keep, "/api/rooms/", **{"path.id": "rooms"}),
        offer(keep, "/api/(train|viz)/", **{"path.id": "runs", "path.run_id": "runs"}),
        offer(keep, "/api/models/", **{"path.id": "models"}),
        offer("DELETE", "/api/models/{id}/$", **{"path.id": "spare_models"}),
        offer(
            "DELETE", "/api/models/{id}/aliases/", **{"path.id": "models", "path.alias": "aliases"}
        ),
    ]
    return "\n".join(lines)


def test_every_operation_conforms_to_its_schema_under_fuzzing(stack, seeded, tmp_path):
    output = run_schemathesis(
        stack, seeded, tmp_path, "examples,coverage,fuzzing", STATELESS_SECONDS
    )
    # It really ran: every operation of the schema, through the coverage phase (boundary
    # and invalid values of every parameter) and the fuzzing phase.
    summary = output[output.rindex("SUMMARY") :]
    assert _count(summary, "Selected:") == _count(summary, "Tested:") >= 45, summary
    for phase in ("Coverage", "Fuzzing"):
        assert f"✅ {phase}" in summary, summary
    assert _junit_cases(tmp_path / "report") >= _count(summary, "Tested:")


def test_call_sequences_conform_to_the_schema(stack, seeded, tmp_path):
    """The stateful phase, with a time budget of its own so that a slow machine does
    not spend it all on the phases before: sequences that follow the links schemathesis
    infers from the schema (POST /api/rooms -> GET /api/rooms/{id}/ -> ...)."""
    output = run_schemathesis(stack, seeded, tmp_path, "stateful", STATEFUL_SECONDS)
    scenarios = re.search(r"Scenarios:\s+(\d+)", output)
    links = re.search(r"API Links:\s+(\d+) covered / (\d+) selected", output)
    assert scenarios and int(scenarios[1]) > 0, output[-3000:]
    assert links and int(links[1]) > 0, output[-3000:]


def run_schemathesis(stack, seeded: dict, tmp_path: Path, phases: str, seconds: int) -> str:
    """`schemathesis run` as the user `seeded` against the stack; fails the test with
    schemathesis' report (a curl line per finding) unless it found nothing."""
    config = tmp_path / "schemathesis.toml"
    config.write_text(fuzz_config(seeded))
    command = [
        *[sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run"],
        f"{stack.http_urls[0]}/api/schema",
        *["--header", f"Authorization: Bearer {seeded['token']}"],
        *["--checks", ",".join(CHECKS), "--phases", phases],
        *["--max-examples", str(MAX_EXAMPLES), "--max-time", str(seconds)],
        # One worker: with two, schemathesis' threads parse lambdas' source at once and
        # Python 3.11's AST constructor, not thread-safe, fails now and then with
        # "SystemError: AST constructor recursion depth mismatch" (python/cpython#106905).
        *["--seed", str(SEED), "--workers", "1", "--request-timeout", "20"],
        *["--generation-database", "none", "--no-color"],
        *["--report", "junit", "--report-dir", str(tmp_path / "report")],
    ]
    started = time.monotonic()
    done = subprocess.run(
        command,
        cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
        capture_output=True,
        text=True,
        timeout=seconds + 120,
    )
    output = done.stdout + done.stderr
    print(output[-4000:], f"\nschemathesis ran {time.monotonic() - started:.0f} s")
    assert done.returncode == 0, f"{output[-20000:]}\n{stack.logs(3000)}"
    return output


def _count(summary: str, label: str) -> int:
    """`Selected: 48/48` -> 48 (the number before any slash)."""
    line = next(line for line in summary.splitlines() if line.strip().startswith(label))
    return int(line.split(":")[1].split("/")[-1])


def _junit_cases(report: Path) -> int:
    import xml.etree.ElementTree as ElementTree

    reports = list(report.glob("*.xml"))
    assert reports, f"no JUnit report in {report}"
    return sum(1 for _ in ElementTree.parse(reports[0]).getroot().iter("testcase"))


# --- what the fuzzing found, pinned down -------------------------------------------------


def test_an_empty_multipart_form_reaches_django_under_daphne(stack, seeded):
    """Twisted used to refuse it with a bare 400 (no body, no log) before Django saw it."""
    boundary = "0123456789abcdef"
    response = httpx.post(
        f"{stack.http_urls[0]}/api/data/upload",
        content=f"--{boundary}--\r\n".encode(),
        headers={
            "Authorization": f"Bearer {seeded['token']}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"file": ["No file was submitted."]}


def test_csrf_refusals_and_unknown_paths_answer_in_json(stack):
    base = stack.http_urls[0]
    login = httpx.post(f"{base}/api/auth/login", json={"username": "fuzz", "password": "x"})
    assert login.status_code == 403
    assert login.headers["content-type"] == "application/json"
    assert login.json()["code"] == "permission_denied"
    assert login.json()["detail"].startswith("CSRF Failed: ")
    nowhere = httpx.post(f"{base}/api/models/0/aliases", json={"alias": "x"})
    assert nowhere.status_code == 404
    assert nowhere.json() == {"detail": "Not found.", "code": "not_found"}
