"""Harm-weighted WDD: each category's Weighted Displacement Difference times its Crime Severity Index weight.

As ptools' ``wdd_harm`` (Wheeler): ``H = Σ w_c·WDD_c`` with ``Var(H) = Σ w_c²·Var(WDD_c)``, where
``WDD_c`` and its variance are the published formula of ``statistics.wdd`` applied to category ``c``'s counts.
Weights are Statistics Canada's CSI weights (``csi_weights.json``, with their source and year); a
category with counts but no weight is listed in ``unmapped`` and left out, never given a guessed weight.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources

from services.metrics.evaluation.domain.statistics import Z, two_sided_p, wdd


@dataclass(frozen=True)
class SeverityWeights:
    source: str
    year: int
    weights: Mapping[str, float]
    pending: tuple[str, ...]
    """Categories the file names whose weight has not been entered yet."""


def shipped_csi_weights() -> SeverityWeights:
    data = json.loads(resources.files(__package__).joinpath("csi_weights.json").read_text(encoding="utf-8"))
    entries = data["categories"]
    weights = {c: float(e["weight"]) for c, e in entries.items() if e["weight"] is not None}
    pending = tuple(sorted(c for c, e in entries.items() if e["weight"] is None))
    return SeverityWeights(data["source"], int(data["year"]), weights, pending)


@dataclass(frozen=True)
class HarmWdd:
    method: str
    reason: str | None
    categories: tuple[str, ...]
    """The categories weighted into the figure."""
    unmapped: tuple[str, ...]
    """Categories with incidents but no weight: left out of the figure."""
    value: float | None = None
    variance: float | None = None
    z: float | None = None
    ci95: tuple[float, float] | None = None
    p_value: float | None = None


def combine(estimates: Sequence[tuple[float, float, float]]) -> tuple[float, float]:
    """``(Σ w·est, Σ w²·var)`` of ``(estimate, variance, weight)`` triples, as ptools' ``wdd_harm``."""
    return sum(w * e for e, _, w in estimates), sum(w * w * v for _, v, w in estimates)


Counts = Mapping[str, int]


def harm_wdd(
    target_before: Counts, target_after: Counts, control_before: Counts, control_after: Counts,
    weights: Mapping[str, float],
) -> HarmWdd:  # fmt: skip
    """Harm-weighted WDD over the categories present in any of the four windows."""
    present = sorted(set(target_before) | set(target_after) | set(control_before) | set(control_after))
    weighted = tuple(c for c in present if c in weights)
    unmapped = tuple(c for c in present if c not in weights)
    method = "harm-weighted WDD (sum of weight x WDD per category; variance sum of weight² x variance)"
    if not weighted:
        return HarmWdd(method, "no incident category has a severity weight", weighted, unmapped)
    per_category = []
    for c in weighted:
        d = wdd(target_before.get(c, 0), target_after.get(c, 0), control_before.get(c, 0), control_after.get(c, 0))
        per_category.append((float(d.value), float(d.variance), weights[c]))
    value, variance = combine(per_category)
    if variance == 0:
        return HarmWdd(method, "no incidents in the weighted categories", weighted, unmapped, value, variance)
    sd = math.sqrt(variance)
    z = value / sd
    return HarmWdd(method, None, weighted, unmapped, value, variance, z, (value - Z * sd, value + Z * sd),
                   two_sided_p(z))  # fmt: skip
