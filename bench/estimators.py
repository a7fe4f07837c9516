"""Compute time of each advanced estimator on a city-sized problem: 200 neighbourhoods x 60 months.

``python -m bench.estimators [--repeat N]`` prints the median wall time of each call. Pure CPU, no
servers: the incidents are already counted (counting them is the evaluation's query, measured elsewhere).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np

from services.metrics.evaluation.domain.estimators.empirical_bayes import empirical_bayes
from services.metrics.evaluation.domain.estimators.harm import harm_wdd
from services.metrics.evaluation.domain.estimators.outcome_families import select, shipped_category_map
from services.metrics.evaluation.domain.estimators.pooling import adjust, random_effects
from services.metrics.evaluation.domain.estimators.power import power
from services.metrics.evaluation.domain.estimators.seasonal_glm import seasonal_glm
from services.metrics.evaluation.domain.estimators.synthetic_control import synthetic_control

NEIGHBOURHOODS, MONTHS, PRE = 200, 60, 48
CATEGORIES = ["break_and_enter", "theft_from_vehicle", "mischief", "assault", "robbery", "drug_offence"]


def city(seed: int = 13) -> np.ndarray:
    """Monthly NB2 counts (alpha 0.1) with a season, a slow decline and gamma-spread neighbourhood levels."""
    rng = np.random.default_rng(seed)
    season = 1 + 0.3 * np.sin(np.arange(MONTHS) * 2 * np.pi / 12)
    mu = np.outer(rng.gamma(4, 5, NEIGHBOURHOODS), season * np.exp(-0.004 * np.arange(MONTHS)))
    counts = rng.poisson(mu * rng.gamma(10, 0.1, mu.shape))
    counts[0, PRE:] = rng.poisson(0.7 * mu[0, PRE:])  # the audited neighbourhood, 30 % fewer after
    return counts


def median_ms(call: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def cases(counts: np.ndarray) -> dict[str, Callable[[], Any]]:
    before, after = counts[:, :PRE].sum(axis=1), counts[:, PRE:].sum(axis=1)
    target, others = counts[0].tolist(), counts[1:].tolist()
    near = np.argsort(np.abs(counts[1:, :PRE].mean(axis=1) - counts[0, :PRE].mean()))[:10] + 1
    by_category = {c: int(before[0] // len(CATEGORIES)) for c in CATEGORIES}
    after_by_category = {c: int(after[0] // len(CATEGORIES)) for c in CATEGORIES}
    control = {c: int(before[1:].sum() // len(CATEGORIES)) for c in CATEGORIES}
    control_after = {c: int(after[1:].sum() // len(CATEGORIES)) for c in CATEGORIES}
    weights = dict.fromkeys(CATEGORIES, 1.0)
    audits = [(float(np.log(a / b)), 0.05) for a, b in zip(before[:50] + 1, after[:50] * 4 + 1, strict=True)]
    cmap = shipped_category_map()
    return {
        "empirical Bayes, moments prior (200 reference)": lambda: empirical_bayes(
            int(before[0]), int(after[0]), PRE, 0.25, before.tolist(), [PRE] * NEIGHBOURHOODS),
        "empirical Bayes, NB maximum likelihood prior": lambda: empirical_bayes(
            int(before[0]), int(after[0]), PRE, 0.25, before.tolist(), [PRE] * NEIGHBOURHOODS, "negative binomial"),
        "seasonal GLM, 199 controls summed, with pre-trend": lambda: seasonal_glm(
            target, others, date(2021, 1, 1), PRE),
        "seasonal GLM, 10 control series, with pre-trend": lambda: seasonal_glm(
            target, counts[near].tolist(), date(2021, 1, 1), PRE),
        "synthetic control, 199 donors, no placebo": lambda: synthetic_control(target, others, PRE, placebo=False),
        "synthetic control, 199 donors, 199 placebos": lambda: synthetic_control(target, others, PRE),
        "synthetic control, 30 nearest donors, 30 placebos": lambda: synthetic_control(
            target, counts[np.argsort(np.abs(before[1:] - before[0]))[:30] + 1].tolist(), PRE),
        "harm-weighted WDD, 6 categories": lambda: harm_wdd(by_category, after_by_category, control, control_after,
                                                            weights),
        "power and minimum detectable effect": lambda: power(int(before[0]), int(before[1:].sum()), PRE, 12, 1.8),
        "pooling of 50 audits (HKSJ, prediction interval)": lambda: random_effects(audits),
        "Holm over 50 p-values": lambda: adjust([0.001 * i for i in range(1, 51)]),
        "outcome family selection": lambda: select(cmap, "substance", CATEGORIES),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    counts = city()
    print(f"{NEIGHBOURHOODS} neighbourhoods x {MONTHS} months ({PRE} before), median of {args.repeat} runs")
    for name, call in cases(counts).items():
        repeat = 1 if "199 placebos" in name else args.repeat
        print(f"{median_ms(call, repeat):10.1f} ms  {name}", flush=True)


if __name__ == "__main__":
    main()
