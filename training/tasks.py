"""django-q2 tasks: thin wrappers that take an id and call a service."""

from __future__ import annotations

from . import services
from .models import TrainingRun
from .streaming import background_sender


def train_run(run_id: str) -> str | None:
    """Train one run in this worker process."""
    from django_q.conf import Conf

    if not Conf.SYNC:
        _one_thread_per_worker(run_id)
        background_sender()
    run = services.run_execute(run_id=run_id)
    return run.status if run else None


def watchdog() -> int:
    """Scheduled every minute: fail runs whose worker died or that overran."""
    return len(services.run_watchdog())


def _one_thread_per_worker(run_id: str) -> None:
    """Each worker process trains with one thread: N workers on N cores, no
    oversubscription. torch is imported here, inside the task, never in the
    qcluster parent (a torch initialised before fork deadlocks the children)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    model_type = TrainingRun.objects.filter(pk=run_id).values_list("model_type", flat=True).first()
    if model_type == "neural_network":
        import torch

        torch.set_num_threads(1)
