"""Per-stage reporting shared by every model: callbacks, stop polling, history."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .jsonsafe import json_safe

EpochCallback = Callable[[dict[str, Any]], None]
StageCallback = Callable[[dict[str, Any]], None]
StopCallback = Callable[[], bool]

# Inside a long stage (between trees, batches, boosting iterations) a stop is polled at
# most this often, so that it lands within about this much time without a query per batch.
STOP_POLL_SECONDS = 0.25


class Progress:
    """What a trainer talks to once per stage (epoch, batch of trees, chunk of iterations).

    Trainers call :meth:`stop_requested` before each stage and :meth:`report` after it;
    the history of reported metrics becomes the result's training curve. Inside a stage
    that can run long they call :meth:`stop_polled` as often as they like.
    """

    def __init__(
        self,
        *,
        model_type: str,
        on_epoch: EpochCallback | None = None,
        on_stage: StageCallback | None = None,
        should_stop: StopCallback | None = None,
    ) -> None:
        self.model_type = model_type
        self._on_epoch = on_epoch
        self._on_stage = on_stage
        self._should_stop = should_stop
        self.history: list[dict[str, Any]] = []
        self.stopped = False
        self.total_stages = 0
        self._polled_at = time.monotonic()

    def stop_requested(self) -> bool:
        """Poll ``should_stop``; once it said yes, stay stopped."""
        self._polled_at = time.monotonic()
        if not self.stopped and self._should_stop is not None and self._should_stop():
            self.stopped = True
        return self.stopped

    def stop_polled(self) -> bool:
        """:meth:`stop_requested`, but asking ``should_stop`` at most every
        :data:`STOP_POLL_SECONDS`: cheap enough to call between batches."""
        if self.stopped or time.monotonic() - self._polled_at >= STOP_POLL_SECONDS:
            return self.stop_requested()
        return False

    def report(
        self,
        *,
        stage: int,
        total_stages: int,
        metrics: dict[str, float],
        unit: str,
        completed: int,
        total: int,
    ) -> None:
        """Record a finished stage and call ``on_epoch(metrics)`` then ``on_stage(progress)``."""
        self.total_stages = total_stages
        row = json_safe({"epoch": stage, **metrics})
        self.history.append(row)
        if self._on_epoch is not None:
            self._on_epoch(dict(row))
        if self._on_stage is not None:
            self._on_stage(
                {
                    "stage": stage,
                    "total_stages": total_stages,
                    "fraction": stage / total_stages if total_stages else 1.0,
                    "unit": unit,
                    "completed": completed,
                    "total": total,
                    "model_type": self.model_type,
                }
            )
