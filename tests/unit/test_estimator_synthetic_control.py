"""Synthetic control: convex weights that track the target, the after gap, placebo ranks and honest refusals."""

from __future__ import annotations

import numpy as np
import pytest

from services.metrics.evaluation.domain.estimators.synthetic_control import synthetic_control

MONTHS, PRE = 48, 36


def _donors(count: int = 12, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    season = 1 + 0.3 * np.sin(np.arange(MONTHS) * 2 * np.pi / 12)
    return rng.poisson(np.outer(rng.uniform(5, 40, count), season)).astype(float)


def test_a_target_made_of_two_donors_is_found_and_its_fall_measured() -> None:
    donors = _donors()
    target = 0.3 * donors[2] + 0.7 * donors[5]
    target[PRE:] *= 0.7  # a 30 % fall after
    result = synthetic_control(target, donors, PRE)
    assert result.reason is None and result.weights is not None
    assert result.weights[2] == pytest.approx(0.3, abs=1e-3) and result.weights[5] == pytest.approx(0.7, abs=1e-3)
    assert sum(result.weights) == pytest.approx(1) and min(result.weights) >= 0
    assert result.pre_rmse == pytest.approx(0, abs=0.05)
    assert result.after_gap_percent == pytest.approx(-30, abs=0.5)
    # no placebo tracks its own pre-period as closely: the target ranks first, p = 1/(12 + 1)
    assert result.placebos == 12 and result.placebo_p_value == pytest.approx(1 / 13)


def test_refuses_a_target_beyond_every_donor() -> None:
    donors = _donors()
    result = synthetic_control(donors.max(axis=0) * 2, donors, PRE, placebo=False)
    assert result.weights is None
    assert result.reason == "the target is outside the donors' convex hull: its pre-period mean is beyond every donor's"


def test_refuses_a_poor_fit_but_shows_it() -> None:
    donors = _donors()
    target = np.tile([2.0, 38.0], MONTHS // 2)  # mean 20, a zigzag no smooth donor follows
    result = synthetic_control(target, donors, PRE, placebo=False)
    assert result.reason is not None and result.reason.startswith("poor pre-period fit: RMSE")
    assert result.pre_rmse is not None and result.pre_rmse > 10 and result.gap is None


def test_refuses_short_series_and_small_pools() -> None:
    donors = _donors()
    assert synthetic_control(donors[0], donors[1:4], PRE).reason == "fewer than 5 donor neighbourhoods"
    assert synthetic_control(donors[0], donors[1:], 6).reason == "fewer than 12 pre-period months"


def test_the_weights_are_as_good_as_a_general_constrained_optimiser() -> None:
    from scipy.optimize import minimize

    from services.metrics.evaluation.domain.estimators.synthetic_control import fit_weights

    donors = _donors(15, seed=3)[:, :PRE].T
    target = np.random.default_rng(5).poisson(donors.mean(axis=1) * 1.1).astype(float)
    w = fit_weights(target, donors)

    def loss(v: np.ndarray) -> float:
        return float(np.sum((target - donors @ v) ** 2))

    slsqp = minimize(loss, np.full(15, 1 / 15), method="SLSQP", bounds=[(0, 1)] * 15,
                     constraints=[{"type": "eq", "fun": lambda v: v.sum() - 1}], options={"ftol": 1e-12})  # fmt: skip
    assert w.sum() == pytest.approx(1) and w.min() >= 0
    assert loss(w) <= loss(slsqp.x) * (1 + 1e-6)
