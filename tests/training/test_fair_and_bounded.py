"""Heavy work stays fair and bounded (issue #17): limits on runs per user and per
workspace, workers that take queued runs round-robin across workspaces, and runs
sized before they start and watched while they train."""

from __future__ import annotations

import subprocess
import sys

import psutil
import pytest
from django.core.management import CommandError
from django.test import override_settings

from datasets.services import dataset_ingest
from tests.live_stack import wait_for
from training import services
from training.models import RunStatus, TrainingRun

from .test_services import queued_run, train_tree

pytestmark = pytest.mark.django_db

NN_LONG = {"hidden_layers": [8], "epochs": 500, "batch_size": 8, "patience": 0}


@pytest.fixture
def elsewhere(team, cancer_frame, tmp_path):
    """The same data in the outsider's own workspace: a second team."""
    path = tmp_path / "elsewhere.csv"
    cancer_frame.to_csv(path, index=False)
    return dataset_ingest(
        user=team.outsider, workspace=team.outsider_workspace, source=str(path), name="cancer"
    )


def queued_elsewhere(team, dataset):
    fields = {"target": "diagnosis", "model_type": "decision_tree", "positive_class": "malignant"}
    built = services.run_config_build(dataset=dataset, data=fields, user=team.outsider)
    return services.run_start(user=team.outsider, dataset=dataset, config=built, enqueue=False)


def test_one_worker_takes_runs_round_robin_across_workspaces(team, cancer, elsewhere):
    backlog = [queued_run(team, cancer) for _ in range(4)]
    second_team = [queued_elsewhere(team, elsewhere) for _ in range(2)]
    order = []
    while (run := services.run_claim_next()) is not None:
        order.append(run.pk)
        run.finish(RunStatus.SUCCEEDED)
    a, b = [r.pk for r in backlog], [r.pk for r in second_team]
    assert order == [a[0], b[0], a[1], b[1], a[2], a[3]]


def test_a_busy_workspace_waits_for_an_idle_one(team, cancer, elsewhere):
    """Two workers: while the first team's run trains, the second team's goes next."""
    backlog = [queued_run(team, cancer) for _ in range(3)]
    late = queued_elsewhere(team, elsewhere)
    assert services.run_claim_next().pk == backlog[0].pk
    assert services.run_claim_next().pk == late.pk
    assert services.run_claim_next().pk == backlog[1].pk


def test_within_a_workspace_the_oldest_run_goes_first(team, cancer):
    first, second = queued_run(team, cancer), queued_run(team, cancer)
    assert services.run_claim_next().pk == first.pk
    assert services.run_claim_next().pk == second.pk
    assert services.run_claim_next() is None


@override_settings(RUNS_ACTIVE_PER_USER=2, RUNS_ACTIVE_PER_WORKSPACE=3)
def test_too_many_runs_per_user_or_workspace_is_a_429_that_counts_them(
    team, cancer, client_for, start_payload
):
    owner, editor = client_for(team.owner), client_for(team.editor)
    for client in (owner, owner, editor):
        assert client.post("/api/train/start", start_payload(), format="json").status_code == 202
    running = TrainingRun.objects.filter(created_by=team.owner).first()
    running.mark_running(worker="test")

    refused = owner.post("/api/train/start", start_payload(), format="json")
    assert refused.status_code == 429, refused.content
    assert refused.json() == {
        "detail": "You have 2 runs queued or running (1 waiting, 1 running); the limit is 2. "
        "Stop one, or start this one when one has finished.",
        "code": "too_many_runs",
    }
    refused = editor.post("/api/train/start", start_payload(), format="json")
    assert refused.status_code == 429
    assert refused.json()["detail"].startswith(
        "This workspace has 3 runs queued or running (2 waiting, 1 running); the limit is 3."
    )
    assert TrainingRun.objects.count() == 3  # nothing was recorded for the refusals

    running.finish(RunStatus.SUCCEEDED)  # a place frees up
    assert owner.post("/api/train/start", start_payload(), format="json").status_code == 202


@override_settings(RUNS_ACTIVE_PER_USER=1)
def test_the_train_command_is_refused_the_same_way(team, cancer):
    queued_run(team, cancer)
    with pytest.raises(CommandError, match="You have 1 run queued or running"):
        train_tree(cancer, sync=True)


# --- bounded before it starts, and while it trains ------------------------------------------


def test_a_network_too_big_to_register_is_refused_at_start_naming_the_knob(
    team, client_for, start_payload
):
    payload = start_payload(
        model_type="neural_network", hyperparameters={"hidden_layers": [4096] * 8}
    )
    response = client_for(team.owner).post("/api/train/start", payload, format="json")
    assert response.status_code == 400, response.content
    (message,) = response.json()["hyperparameters.hidden_layers"]
    assert message.startswith("too big for the workers: the model would be about 448 MiB")
    assert "MODEL_MAX_BYTES limit of 256 MiB" in message
    assert not TrainingRun.objects.exists()


@override_settings(WORKER_MEMORY_LIMIT=64 * 2**20)
def test_a_forest_that_would_not_fit_a_worker_is_refused_at_start(team, client_for, start_payload):
    payload = start_payload(model_type="random_forest", hyperparameters={"n_estimators": 5000})
    response = client_for(team.owner).post("/api/train/start", payload, format="json")
    assert response.status_code == 400, response.content
    (message,) = response.json()["hyperparameters.n_estimators"]
    assert "training would need about" in message and "WORKER_MEMORY_LIMIT of 64 MiB" in message
    smaller = start_payload(model_type="random_forest", hyperparameters={"n_estimators": 50})
    response = client_for(team.owner).post("/api/train/start", smaller, format="json")
    assert response.status_code == 202, response.content


def test_a_worker_past_its_memory_limit_fails_the_run_and_says_so(team, cancer, monkeypatch):
    """The limit is checked with every stop poll (several times a second in a stage);
    the worker stays up, the run ends `failed` with "out of memory"."""
    run = queued_run(team, cancer, model_type="neural_network", hyperparameters=NN_LONG)
    readings = iter([100 * 2**20] * 3)
    monkeypatch.setattr(services, "resident_bytes", lambda: next(readings, 5 * 2**30))
    services.run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert run.error.startswith("Out of memory: the worker reached 5,120 MiB while training")
    assert "WORKER_MEMORY_LIMIT (3,072 MiB)" in run.error
    assert 0 < run.metrics.count() < NN_LONG["epochs"]


@override_settings(MODEL_MAX_BYTES=2000)
def test_a_trained_model_over_the_size_limit_is_not_registered(team, cancer):
    run = queued_run(team, cancer, model_type="random_forest")
    services.run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and run.model is None
    assert "over the MODEL_MAX_BYTES limit" in run.error


def test_the_memory_checked_includes_a_child_fitting_for_the_worker(monkeypatch):
    """A single fit in a child process (training/ml/child.py) allocates there, not in the
    worker: WORKER_MEMORY_LIMIT counts the child's own pages too."""
    from training.ml import child

    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; x = bytearray(300 * 2**20); sys.stdin.read()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        wait_for(
            lambda: psutil.Process(holder.pid).memory_info().rss > 300 * 2**20,
            timeout=30,
            what="the child's memory",
        )
        alone = services.resident_bytes()
        monkeypatch.setattr(child, "_fitting", holder.pid)
        assert services.resident_bytes() - alone > 290 * 2**20
    finally:
        holder.kill()
        holder.wait()
    # A child that has just ended counts nothing, and raises nothing.
    assert services.resident_bytes() < alone + 100 * 2**20
