"""What every benchmark shares: figures, realistic events, the scratch servers."""

from __future__ import annotations

import math
import random
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from shared.contracts.events import Envelope
from shared.contracts.events.audits import AuditCreated, RecommendationCreated, RecommendationStatusChanged

FAILED_AT_MOST = 0.001
"""A figure is not met when more than this share of its requests failed (an error, a non-2xx answer, a timeout,
a reset connection, a write never seen)."""
SHORTFALL_AT_MOST = 0.05
"""Nor when the rate it achieved fell short of the rate offered by more than this share."""


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    target: str = ""
    target_met: bool | None = None
    """What the target alone says; ``met`` also asks whether the measurement holds up."""
    note: str = ""
    samples: int = 0
    """How many measurements the value stands on: answers, events applied, rows loaded."""
    failures: dict[str, int] = field(default_factory=dict)
    """Failed requests by cause: ``reset``, ``timeout``, ``error``, ``http 503``, ``unseen``…"""
    offered: float | None = None
    achieved: float | None = None
    """Requests per second asked for, and answered over the real elapsed time (open-loop figures)."""

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    def flaws(self) -> list[str]:
        """Why this measurement cannot meet any target, whatever its value."""
        flaws = []
        if self.samples <= 0:
            flaws.append("no samples")
        if not math.isfinite(self.value) or self.value == 0:
            flaws.append(f"value {self.value}")
        if self.failed > FAILED_AT_MOST * (self.samples + self.failed):
            flaws.append(f"{self.failed} failed")
        if self.offered and (self.achieved or 0) < (1 - SHORTFALL_AT_MOST) * self.offered:
            flaws.append(f"{self.achieved or 0:.0f} of {self.offered:.0f}/s achieved")
        return flaws

    @property
    def met(self) -> bool | None:
        """None for a figure with no target and nothing wrong; False whenever the measurement has a flaw."""
        return False if self.flaws() else self.target_met

    @property
    def ratio(self) -> float | None:
        return self.value / self.baseline if self.baseline else None

    def row(self) -> dict[str, Any]:
        ratio = round(self.ratio, 3) if self.ratio is not None else None
        value = self.value if math.isfinite(self.value) else None  # JSON has no infinity
        return asdict(self) | {"value": value, "met": self.met, "flaws": self.flaws(), "ratio": ratio}


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile (``q`` in 0..100): a value actually measured, never an interpolation below it."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    box: list[float] = []
    start = time.perf_counter()
    yield box
    box.append(time.perf_counter() - start)


def audit_events(count: int, seed: int = 7, partnerships: int = 4) -> list[Envelope]:
    """About ``count`` events as the audits service emits them: audits, recommendations, their steps, in
    ``partnerships`` partnerships."""
    rng = random.Random(seed)
    partnership_ids = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(partnerships)]
    neighbourhoods = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(8)]
    events: list[Envelope] = []
    while len(events) < count:
        audit_id, day = uuid.uuid4(), date(2024, 1, 1) + timedelta(days=rng.randrange(900))
        p, n = rng.choice(partnership_ids), rng.choice(neighbourhoods)
        audit = {
            "id": audit_id,
            "partnership_id": p,
            "neighbourhood_id": n,
            "site_name": "Laneway",
            "conducted_on": day,
            "trigger": "crime_statistics",
            "status": "completed",
        }
        events.append(
            AuditCreated(
                source="audits",
                subject_id=audit_id,
                subject_version=1,
                partnership_id=p,
                neighbourhood_id=n,
                payload=audit,
            )
        )
        for _ in range(10):
            rec_id = uuid.uuid4()
            category = rng.choice(["lighting", "traffic_calming"])
            rec = {
                "id": rec_id,
                "audit_id": audit_id,
                "category": category,
                "description": "LED lighting",
                "priority": "high",
                "status": "proposed",
            }
            events.append(
                RecommendationCreated(
                    source="audits",
                    subject_id=rec_id,
                    subject_version=1,
                    partnership_id=p,
                    neighbourhood_id=n,
                    payload=rec,
                )
            )
            step = rec | {"status": "accepted", "from": "proposed", "to": "accepted", "on": day + timedelta(days=5)}
            events.append(
                RecommendationStatusChanged(
                    source="audits",
                    subject_id=rec_id,
                    subject_version=2,
                    partnership_id=p,
                    neighbourhood_id=n,
                    payload=step,
                )
            )
    return events[:count]
