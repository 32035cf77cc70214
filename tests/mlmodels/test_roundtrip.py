"""Every model type the engine trains survives registration: a fresh process that has
never seen the Python objects loads the stored file and predicts the same values."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from django.core.files.storage import storages

from training.ml.config import MODEL_TYPES

from .conftest import TARGETS, clinical_frame, engine_result, json_rows, register_result

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]

# Runs in a new interpreter: only the stored file and its registry metadata go in.
LOADER = """
import json, sys
from mlmodels.features import rows_to_frame
from mlmodels.loading import model_from_bytes

cases, rows = json.load(open(sys.argv[1]))
out = []
for case in cases:
    with open(case["path"], "rb") as handle:
        model = model_from_bytes(
            handle.read(), file_format=case["format"], task=case["task"],
            feature_schema=case["schema"], classes=case["classes"],
            threshold=case["threshold"], positive_class=case["positive_class"],
        )
    frame = rows_to_frame(rows, case["schema"])
    raw = model.pipeline.predict(model._inputs(frame))
    out.append({"api": model.predict_rows(rows), "raw": raw.tolist()})
json.dump(out, sys.stdout)
"""


def _cases():
    return [(model_type, task) for model_type, tasks in MODEL_TYPES.items() for task in tasks]


def test_every_engine_model_round_trips_in_a_fresh_process(team, tmp_path):
    frame = clinical_frame(seed=7).head(40)
    features = frame.drop(columns=list(TARGETS.values()))
    features.loc[3, ["bmi", "sex"]] = [None, None]  # missing values go through imputers
    rows = json_rows(features)
    expected, cases = [], []
    for model_type, task in _cases():
        result = engine_result(model_type, task)
        artifact = register_result(team, result, name=f"{model_type} {task}")
        pipeline = result.pipeline
        expected.append(
            {
                "raw": pipeline.predict(features),
                "proba": pipeline.predict_proba(features) if task == "classification" else None,
                "threshold": artifact.threshold,
                "positive_class": artifact.positive_class,
                "classes": artifact.class_labels,
            }
        )
        cases.append(
            {
                "path": storages["models"].path(artifact.file_key),
                "format": artifact.file_format,
                "task": artifact.task,
                "schema": artifact.feature_schema,
                "classes": artifact.class_labels,
                "threshold": artifact.threshold,
                "positive_class": artifact.positive_class,
            }
        )
    assert {case["format"] for case in cases} == {"skops", "mlbundle"}
    spec = tmp_path / "cases.json"
    spec.write_text(json.dumps([cases, rows]))
    run = subprocess.run(
        [sys.executable, "-c", LOADER, str(spec)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    loaded = json.loads(run.stdout)

    for (model_type, task), want, got in zip(_cases(), expected, loaded, strict=True):
        label = f"{model_type}/{task}"
        if task == "regression":
            np.testing.assert_allclose(got["raw"], want["raw"], rtol=1e-9, err_msg=label)
            np.testing.assert_allclose(got["api"]["predictions"], want["raw"], err_msg=label)
            continue
        assert got["raw"] == list(want["raw"]), label
        proba = np.asarray(got["api"]["probabilities"])
        np.testing.assert_allclose(proba, want["proba"], atol=2e-6, err_msg=label)
        classes = want["classes"]
        positive = classes.index(want["positive_class"]) if want["positive_class"] else 1
        if want["threshold"] is not None:  # predict applies the registered decision threshold
            chosen = np.where(
                want["proba"][:, positive] >= want["threshold"], positive, 1 - positive
            )
        else:
            chosen = np.argmax(want["proba"], axis=1)
        assert got["api"]["predictions"] == [classes[i] for i in chosen], label
