"""What every benchmark shares: figures, realistic events, the scratch servers."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

from shared.contracts.events import Envelope
from shared.contracts.events.audits import AuditCreated, RecommendationCreated, RecommendationStatusChanged


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    target: str = ""
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return self.value / self.baseline if self.baseline else None

    def row(self) -> dict[str, Any]:
        return asdict(self) | {"ratio": round(self.ratio, 3) if self.ratio is not None else None}


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    box: list[float] = []
    start = time.perf_counter()
    yield box
    box.append(time.perf_counter() - start)


def audit_events(count: int, seed: int = 7) -> list[Envelope]:
    """About ``count`` events as the audits service emits them: audits, recommendations, their steps."""
    rng = random.Random(seed)
    partnerships = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(4)]
    neighbourhoods = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(8)]
    events: list[Envelope] = []
    while len(events) < count:
        audit_id, day = uuid.uuid4(), date(2024, 1, 1) + timedelta(days=rng.randrange(900))
        p, n = rng.choice(partnerships), rng.choice(neighbourhoods)
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
