"""Which partition of its producer's stream an event goes to.

A subject's events must stay in order, so every event of a subject goes to one partition for the
subject's whole life: the partition is a stable hash (BLAKE2b, the same in every process and release,
unlike Python's ``hash()``) of a field that never changes for the subject. Events of one partnership
share a partition where that is fixed (an audit, its recommendations and photos travel together); a
subject whose partnership or neighbourhood can change later is placed by its own id.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from typing import Any

ORDERED_BY: Mapping[str, str] = {
    "neighbourhood": "neighbourhood_id",  # its own id
    "partnership": "partnership_id",  # its own id
    "audit": "partnership_id",  # an audit never moves to another partnership
    "recommendation": "partnership_id",  # its audit's
    "photo": "partnership_id",  # its audit's
    "stakeholder": "partnership_id",  # fixed when it is created; its neighbourhood is not
    "audit_request": "subject_id",  # assigned to a partnership and placed in a neighbourhood later
    "event": "subject_id",  # its partnerships can change
}
"""Kind of subject (the part of the event type before the dot) -> the envelope field its partition
follows. Any other kind (reference data: materials, distributions, trainings) follows its subject id."""


def ordering_key(envelope: Mapping[str, Any]) -> str:
    """The value the partition of an event (a JSON envelope, as stored) is a hash of."""
    kind = str(envelope.get("type", "")).partition(".")[0]
    value = envelope.get(ORDERED_BY.get(kind, "subject_id")) or envelope.get("subject_id")
    return str(value)


def partition_of(envelope: Mapping[str, Any], partitions: int) -> int:
    if partitions == 1:
        return 0
    key = ordering_key(envelope)
    try:
        raw = uuid.UUID(key).bytes  # one spelling of an id, however it was written
    except ValueError:
        raw = key.encode()
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big") % partitions
