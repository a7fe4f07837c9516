"""Event contracts shared by the producers (audits, events) and the consumer (metrics)."""

from shared.events.envelope import Envelope, EventRegistry, parse_event, registry

__all__ = ["Envelope", "EventRegistry", "parse_event", "registry"]

# Importing the catalogues registers their event types.
from shared.events import audits as audits
from shared.events import events as events
