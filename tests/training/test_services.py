"""The run lifecycle in the worker: claim once, record every epoch, stop, fail, watchdog."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from training import services
from training.models import RunMetric, RunStatus, TrainingRun
from training.tasks import train_run, watchdog

pytestmark = pytest.mark.django_db

NN = {"hidden_layers": [8], "epochs": 30, "batch_size": 32, "patience": 0}


def queued_run(team, dataset, **config):
    fields = {
        "target": "diagnosis",
        "model_type": "logistic_regression",
        "positive_class": "malignant",
        **config,
    }
    built = services.run_config_build(dataset=dataset, data=fields, user=team.owner)
    return services.run_start(user=team.owner, dataset=dataset, config=built, enqueue=False)


def test_a_redelivered_task_never_trains_twice(team, cancer):
    run = queued_run(team, cancer)
    assert train_run(str(run.pk)) == "succeeded"
    epochs = RunMetric.objects.filter(run=run).count()
    assert epochs >= 1
    assert train_run(str(run.pk)) is None
    assert RunMetric.objects.filter(run=run).count() == epochs


def test_stop_takes_effect_within_one_epoch(team, cancer):
    run = queued_run(team, cancer, model_type="neural_network", hyperparameters=NN)
    seen = []

    def stop_after_first(progress):
        seen.append(progress)
        if len(seen) == 1:
            services.run_stop(run=TrainingRun.objects.get(pk=run.pk), user=team.owner)

    services.run_execute(run_id=run.pk, on_progress=stop_after_first)
    run.refresh_from_db()
    assert run.status == RunStatus.STOPPED
    assert RunMetric.objects.filter(run=run).count() <= 2  # the epoch under way, at most one more
    assert run.results is not None  # what it had is kept


def test_overrunning_max_training_time_fails_the_run(team, cancer, settings):
    settings.MAX_TRAINING_TIME = 0
    run = queued_run(team, cancer, model_type="neural_network", hyperparameters=NN)
    services.run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "MAX_TRAINING_TIME" in run.error


def test_a_failure_in_training_is_recorded_with_its_traceback(team, cancer, monkeypatch):
    import training.ml

    def explode(*args, **kwargs):
        raise MemoryError("out of memory while fitting")

    monkeypatch.setattr(training.ml, "train", explode)
    run = queued_run(team, cancer)
    services.run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert run.error == "out of memory while fitting"
    assert "MemoryError" in run.traceback


def test_a_deleted_dataset_fails_the_queued_run_clearly(team, cancer):
    run = queued_run(team, cancer)
    cancer.delete()
    services.run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "dataset" in run.error and "deleted" in run.error


def test_watchdog_fails_runs_whose_worker_went_silent(team, cancer, settings):
    settings.TRAINING_HEARTBEAT_TIMEOUT = 20
    silent = queued_run(team, cancer)
    silent.mark_running(worker="gone:1")
    TrainingRun.objects.filter(pk=silent.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=60)
    )
    alive = queued_run(team, cancer)
    alive.mark_running(worker="here:2")
    assert watchdog() == 1
    silent.refresh_from_db()
    alive.refresh_from_db()
    assert silent.status == RunStatus.FAILED
    assert "stopped responding" in silent.error
    assert alive.status == RunStatus.RUNNING


def test_watchdog_fails_runs_that_overran(team, cancer, settings):
    settings.MAX_TRAINING_TIME = 10
    run = queued_run(team, cancer)
    run.mark_running(worker="slow:1")
    TrainingRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - timedelta(hours=1))
    assert services.run_watchdog() == [str(run.pk)]
    run.refresh_from_db()
    assert "MAX_TRAINING_TIME" in run.error


def test_finish_does_not_overwrite_the_watchdogs_verdict(team, cancer):
    run = queued_run(team, cancer)
    run.mark_running(worker="w:1")
    assert run.finish(RunStatus.FAILED, error="worker died")
    assert not run.finish(RunStatus.SUCCEEDED)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and run.error == "worker died"


def test_watchdog_is_scheduled_every_minute():
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name="training-watchdog")
    assert schedule.func == "training.tasks.watchdog"
    assert schedule.schedule_type == Schedule.MINUTES and schedule.minutes == 1


def train_tree(dataset, **options) -> None:
    """`manage.py train` of a decision tree on the cancer data, with `options`."""
    call_command(
        "train",
        dataset=str(dataset.pk),
        target="diagnosis",
        model_type="decision_tree",
        positive_class="malignant",
        **options,
    )


def test_train_command_sync(team, cancer, capsys):
    train_tree(
        cancer,
        hyperparameters='{"max_depth": 3}',
        threshold_rule="sensitivity>=0.9",
        cv_folds=3,
        exclude="mean radius",
        sync=True,
    )
    run = TrainingRun.objects.get()
    assert run.status == RunStatus.SUCCEEDED
    assert f"Run {run.pk}: succeeded" in capsys.readouterr().out
    assert run.config["threshold_rule"] == "sensitivity>=0.9" and run.config["cv_folds"] == 3
    assert run.results["threshold"]["rule"] == "sensitivity>=0.9"
    assert {"name": "mean radius", "reason": "excluded by request (exclude)"} in run.results[
        "excluded_columns"
    ]


def test_train_command_finds_a_dataset_by_name_and_prints_json(team, cancer, capsys):
    call_command(
        "train",
        dataset="cancer",
        target="diagnosis",
        model_type="decision_tree",
        positive_class="malignant",
        group_column="mean texture",
        json=True,
    )
    captured = capsys.readouterr()
    assert "No task queue" in captured.err  # the tests have no Redis: it trained here
    row = json.loads(captured.out)
    run = TrainingRun.objects.get()
    assert row["id"] == str(run.pk) and row["status"] == "succeeded"
    assert row["model"] == str(run.model_id) and 0.5 < row["metrics"]["accuracy"] <= 1
    assert run.config["group_column"] == "mean texture"


def test_train_command_is_silent_at_verbosity_0(team, cancer, capsys):
    train_tree(cancer, sync=True, verbosity=0)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    assert TrainingRun.objects.get().status == RunStatus.SUCCEEDED


def test_train_command_refuses_an_ambiguous_name(team, cancer, cancer_frame, tmp_path):
    from tests.training.conftest import _ingest

    (tmp_path / "twin").mkdir()
    twin = _ingest(team, cancer_frame, "cancer", tmp_path / "twin")
    with pytest.raises(CommandError, match="2 datasets are named 'cancer'") as refused:
        call_command("train", dataset="cancer", target="diagnosis", model_type="decision_tree")
    assert str(twin.pk) in str(refused.value) and str(cancer.pk) in str(refused.value)
    with pytest.raises(CommandError, match="no dataset with the id or name 'nope'"):
        call_command("train", dataset="nope", target="diagnosis", model_type="decision_tree")


@pytest.mark.django_db(transaction=True)
def test_ctrl_c_stops_the_run_the_command_trains(team, cancer, capsys):
    """The first Ctrl-C stops the run as the API's stop does: it ends `stopped`, with
    the epochs it had, within about two seconds; the command reports it."""
    sent = {}

    def interrupt_after_the_first_epoch():
        deadline = time.monotonic() + 60
        while not RunMetric.objects.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        sent["at"] = time.monotonic()
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_after_the_first_epoch, daemon=True).start()
    call_command(
        "train",
        dataset=str(cancer.pk),
        target="diagnosis",
        model_type="neural_network",
        positive_class="malignant",
        hyperparameters=json.dumps({**NN, "epochs": 5000, "batch_size": 1}),
        sync=True,
    )
    returned = time.monotonic()
    run = TrainingRun.objects.get()
    assert run.status == RunStatus.STOPPED
    assert returned - sent["at"] < 3.0, f"{returned - sent['at']:.2f} s after Ctrl-C"
    assert 0 < run.metrics.count() < 5000 and run.results["status"] == "stopped"
    captured = capsys.readouterr()
    assert "Stopping" in captured.err and f"Run {run.pk}: stopped" in captured.out
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back


def test_train_command_from_a_config_file(team, cancer, diabetes, tmp_path):
    config = tmp_path / "runs.json"
    runs = [
        {"dataset": str(cancer.pk), "target": "diagnosis", "model_type": "random_forest",
         "hyperparameters": {"n_estimators": 10}, "positive_class": "malignant"},
        {"dataset": str(diabetes.pk), "target": "progression", "model_type": "linear_regression"},
    ]  # fmt: skip
    config.write_text(json.dumps(runs))
    call_command("train", config=config, sync=True)
    assert sorted(TrainingRun.objects.values_list("status", flat=True)) == ["succeeded"] * 2


@pytest.mark.parametrize(
    "options, message",
    [
        ({"target": "diagnosis", "model_type": "decision_tree"}, "--dataset is required"),
        ({"dataset": "nope", "target": "x", "model_type": "decision_tree"}, "dataset: no dataset"),
        ({"dataset": "CANCER", "target": "nope", "model_type": "decision_tree"}, "target"),
        (
            {
                "dataset": "CANCER",
                "target": "diagnosis",
                "model_type": "decision_tree",
                "hyperparameters": "{",
            },
            "JSON",
        ),
    ],
)
def test_train_command_errors(team, cancer, options, message):
    if options.get("dataset") == "CANCER":
        options = {**options, "dataset": str(cancer.pk)}
    with pytest.raises(CommandError, match=message):
        call_command("train", sync=True, **options)
    assert not TrainingRun.objects.exists()


def test_a_run_the_task_queue_cannot_take_fails_with_the_reason(team, cancer, monkeypatch):
    """The broker (Redis) is down when the run is queued: no worker will ever see it, so
    it must not wait as `queued` forever."""
    import redis

    def broker_down(*args, **kwargs):
        raise redis.exceptions.ConnectionError("Error 111 connecting to redis.sock.")

    monkeypatch.setattr("django_q.tasks.async_task", broker_down)
    run = queued_run(team, cancer)
    services.run_enqueue(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "could not be queued" in run.error and "Error 111" in run.error


def test_a_run_keeps_the_time_of_each_phase_of_its_job(team, cancer):
    """benchmarks/stream.py splits a job's overhead by these."""
    run = queued_run(team, cancer, model_type="neural_network", hyperparameters=NN)
    assert train_run(str(run.pk)) == "succeeded"
    run.refresh_from_db()
    worker = run.results["timings"]["worker"]
    assert set(worker) == {"queue_wait", "load", "engine", "epoch_writes", "register"}
    assert all(seconds >= 0 for seconds in worker.values())
    assert worker["engine"] > worker["epoch_writes"] > 0  # 30 epochs written
    assert set(run.results["timings"]) >= {"fit", "evaluate", "worker"}
