"""From summed projections to the data of each scope: the programme, each neighbourhood, each partnership."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from services.metrics.cswb.domain.document import Inputs
from services.metrics.cswb.domain.indicators import PERIODS, ScopeData
from services.metrics.totals.domain.contributions import ALL

PeriodSums = list[int]
"""One sum per period: the day, the year to date, everything to date."""


CounterSums = dict[uuid.UUID, dict[uuid.UUID, dict[str, PeriodSums]]]
"""partnership (``ALL`` for the programme) → neighbourhood → metric → sums."""


def _added(parts: Iterable[Mapping[str, PeriodSums]]) -> dict[str, PeriodSums]:
    total: dict[str, PeriodSums] = {}
    for part in parts:
        for name, values in part.items():
            now = total.setdefault(name, [0] * len(PERIODS))
            total[name] = [a + b for a, b in zip(now, values, strict=True)]
    return total


def scope_inputs(
    day: date,
    zone: str,
    counters: CounterSums,
    incidents: Mapping[uuid.UUID, Mapping[str, PeriodSums]],
    links: Mapping[uuid.UUID, Sequence[uuid.UUID]],
    neighbourhoods: Sequence[uuid.UUID],
    evaluation: Mapping[str, Any] | None,
) -> Inputs:
    """Programme-wide counters are the ``ALL`` ones (a thing shared by two partnerships counts once);
    a partnership's incidents are those of the neighbourhoods it works in."""
    programme = counters.get(ALL, {})
    partnerships = sorted(set(links) | (set(counters) - {ALL}))
    return Inputs(
        feed_date=day,
        timezone=zone,
        overall=ScopeData(_added(programme.values()), _added(incidents.values()), evaluation or {}),
        neighbourhoods={
            n: ScopeData(_added([programme.get(n, {})]), _added([incidents.get(n, {})])) for n in neighbourhoods
        },
        partnerships={
            p: ScopeData(_added(counters.get(p, {}).values()), _added(incidents.get(n, {}) for n in links.get(p, ())))
            for p in partnerships
        },
        partnership_neighbourhoods={p: list(links.get(p, ())) for p in partnerships},
    )
