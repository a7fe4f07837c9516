"""The recommendation lifecycle.

``proposed → accepted → in_progress → implemented``; ``declined`` and
``deferred`` from any open state; ``deferred → accepted`` reopens.
``implemented`` and ``declined`` are final.
"""

from __future__ import annotations

from datetime import date

from shared.contracts.vocabulary import RecommendationStatus as S

FINAL: frozenset[S] = frozenset({S.implemented, S.declined})

_FORWARD: dict[S, set[S]] = {
    S.proposed: {S.accepted},
    S.accepted: {S.in_progress},
    S.in_progress: {S.implemented},
    S.deferred: {S.accepted},
}


def allowed_next(current: S) -> frozenset[S]:
    if current in FINAL:
        return frozenset()
    nxt = set(_FORWARD.get(current, set())) | {S.declined}
    if current is not S.deferred:
        nxt.add(S.deferred)
    return frozenset(nxt)


class TransitionRefused(ValueError):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def check_transition(
    current: S, to: S, on: date, last_on: date | None, today: date, audit_on: date | None = None
) -> None:
    """Raise ``TransitionRefused`` unless ``current → to`` on ``on`` is a legal step."""
    if to not in allowed_next(current):
        options = ", ".join(sorted(allowed_next(current))) or "none: the recommendation is closed"
        raise TransitionRefused(f"cannot go from {current} to {to}; allowed: {options}", "to")
    if on > today:
        raise TransitionRefused(f"the date {on} is in the future", "on")
    if audit_on is not None and on < audit_on:
        raise TransitionRefused(f"the date {on} is before the audit ({audit_on})", "on")
    if last_on is not None and on < last_on:
        raise TransitionRefused(f"the date {on} is before the previous step ({last_on})", "on")


def implemented_on_after(to: S, on: date) -> date | None:
    return on if to is S.implemented else None
