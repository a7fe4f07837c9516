"""The triage of audit requests.

``received → scheduled (linked to an audit) → done``, and ``rejected`` (with a
reason) from any open state. ``done`` and ``rejected`` are final.
"""

from __future__ import annotations

import uuid

from shared.contracts.vocabulary import AuditRequestStatus as S

OPEN: frozenset[S] = frozenset({S.received, S.scheduled})
FINAL: frozenset[S] = frozenset({S.done, S.rejected})

_NEXT: dict[S, frozenset[S]] = {
    S.received: frozenset({S.scheduled, S.rejected}),
    S.scheduled: frozenset({S.done, S.rejected}),
    S.done: frozenset(),
    S.rejected: frozenset(),
}


class TriageRefused(ValueError):
    """``illegal`` marks a step the lifecycle forbids (a conflict), else the request is incomplete."""

    def __init__(self, message: str, field: str, *, illegal: bool = False) -> None:
        super().__init__(message)
        self.field = field
        self.illegal = illegal


def is_open(status: S | str) -> bool:
    return S(status) in OPEN


def check_triage(current: S, to: S, *, audit_id: uuid.UUID | None, reason: str | None, relinked: bool = False) -> None:
    """Raise ``TriageRefused`` unless a request in ``current`` may end up in ``to`` with this link and reason."""
    if relinked and current in FINAL:
        raise TriageRefused(f"the request is {current}: its audit can no longer change", "audit_id", illegal=True)
    if to is not current and to not in _NEXT[current]:
        allowed = ", ".join(sorted(_NEXT[current])) or "none: the request is closed"
        raise TriageRefused(f"cannot go from {current} to {to}; allowed: {allowed}", "status", illegal=True)
    if to is S.scheduled and audit_id is None:
        raise TriageRefused("a scheduled request names the audit that will look at the place", "audit_id")
    if to is S.received and audit_id is not None:
        raise TriageRefused("a request is linked to an audit by scheduling it", "audit_id")
    if to is S.rejected and not reason:
        raise TriageRefused("a rejected request says why in 'reason'", "reason")
