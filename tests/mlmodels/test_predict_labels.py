"""Labels round-trip (issue #16, point 4): a CSV uploaded through the API, a model
trained on it through the API, and predict's labels are the uploaded ones, spelled and
typed as they were uploaded."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from training.models import RunStatus, TrainingRun

pytestmark = pytest.mark.django_db

N = 80


def labelled_csv(labels: tuple[str, str]) -> bytes:
    """A target spelled `labels` (negative, positive) that `score` separates, and a
    category column spelled the same way, so features keep their text too."""
    rng = np.random.default_rng(7)
    score = rng.normal(0, 1, N)
    target = np.where(score + rng.normal(0, 0.3, N) > 0, labels[1], labels[0])
    lines = ["score,flag,outcome"]
    lines += [
        f"{value:.4f},{labels[i % 2]},{label}"
        for i, (value, label) in enumerate(zip(score, target, strict=True))
    ]
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (("FALSE", "TRUE"), ["FALSE", "TRUE"]),
        (("False", "True"), ["False", "True"]),
        (("01", "02"), ["01", "02"]),
        (("no", "yes"), ["no", "yes"]),
        (("0", "1"), [0, 1]),  # integers come back as the numbers they were
        (("en bonne santé", "très malade"), ["en bonne santé", "très malade"]),
    ],
    ids=["TRUE-FALSE", "True-False", "01-02", "yes-no", "integers", "spaces-accents"],
)
def test_predict_returns_labels_as_uploaded(
    team, client_for, django_capture_on_commit_callbacks, labels, expected
):
    client = client_for(team.editor)
    upload = client.post(
        "/api/data/upload",
        {
            "file": SimpleUploadedFile("labels.csv", labelled_csv(labels)),
            "workspace": str(team.workspace.pk),
        },
        format="multipart",
    )
    assert upload.status_code == 202, upload.content
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(
            "/api/train/start",
            {
                "dataset": upload.json()["id"],
                "target": "outcome",
                "model_type": "logistic_regression",
                "positive_class": expected[1],
            },
            format="json",
        )
    assert started.status_code == 202, started.content
    run = TrainingRun.objects.get(pk=started.json()["id"])
    assert run.status == RunStatus.SUCCEEDED, run.error

    rows = [{"score": -1.8, "flag": expected[0]}, {"score": 1.8, "flag": expected[1]}]
    response = client.post(f"/api/models/{run.model_id}/predict", {"rows": rows}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["classes"] == expected
    assert body["predictions"] == expected  # the clear-cut rows, each its own label
    assert [type(label) for label in body["predictions"]] == [type(e) for e in expected]
    assert body["positive_class"] == expected[1]
    assert body["warnings"] == [[], []]  # the feature's categories kept their text too
