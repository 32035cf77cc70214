"""django-q2 tasks: thin wrappers that take an id and call a service."""

from __future__ import annotations

from . import services


def dataset_process(dataset_id: str) -> str | None:
    """Parse, profile and store an upload (services.dataset_process): its end status."""
    dataset = services.dataset_process(dataset_id=dataset_id)
    return dataset.status if dataset else None


def sweep_stale() -> int:
    """Scheduled every 5 minutes: reject uploads whose processing never finished."""
    return services.dataset_sweep_stale()
