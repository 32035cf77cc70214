"""django-q2 tasks: thin wrappers that take an id and call a service."""

from __future__ import annotations

from . import services


def model_process(artifact_id: str) -> str | None:
    """Read and check an uploaded model file (services.model_process): its end status."""
    artifact = services.model_process(artifact_id=artifact_id)
    return artifact.status if artifact else None


def sweep_stale() -> int:
    """Scheduled every 5 minutes: reject model uploads whose checking never finished."""
    return services.model_sweep_stale()
