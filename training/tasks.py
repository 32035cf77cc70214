"""django-q2 tasks: thin wrappers that take an id and call a service."""

from __future__ import annotations

from . import services
from .models import TrainingRun
from .streaming import background_sender


def train_run(run_id: str) -> str | None:
    """Train this run in this worker process (nothing if it is no longer queued)."""
    run = services.run_execute(run_id=run_id, prepare=_worker_setup())
    return run.status if run else None


def train_next(ticket: str) -> str | None:
    """A queued run's ticket: train the queued run that is fairest now, round-robin
    across workspaces (services.run_claim_next): the ticket's own run (`ticket`) or
    one that waited longer. Every queued run has a ticket, so none is left behind.
    Nothing if no run is queued."""
    run = services.run_execute(prepare=_worker_setup())
    return run.status if run else None


def _worker_setup():
    from django_q.conf import Conf

    if Conf.SYNC:  # in the caller's process: leave its threads alone
        return None
    background_sender()
    return _one_thread_per_worker


def watchdog() -> int:
    """Scheduled every minute: fail runs whose worker died or that overran."""
    return len(services.run_watchdog())


def _one_thread_per_worker(run: TrainingRun) -> None:
    """Each worker process trains with one thread: N workers on N cores, no
    oversubscription. torch is imported here, inside the task, never in the
    qcluster parent (a torch initialised before fork deadlocks the children)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    if run.model_type == "neural_network":
        import torch

        torch.set_num_threads(1)
