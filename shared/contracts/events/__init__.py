"""Event contracts shared by the producers (audits, events) and the consumer (metrics)."""

from shared.contracts.events.envelope import Envelope, EventRegistry, parse_event, registry

__all__ = ["Envelope", "EventRegistry", "parse_event", "registry"]

# Importing the catalogues registers their event types.
from shared.contracts.events import audits as audits
from shared.contracts.events import events as events
