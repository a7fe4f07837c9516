"""Tables of the events service (schema ``events``)."""

from shared.db import new_metadata
from shared.outbox import outbox_table

metadata = new_metadata("events")

outbox = outbox_table(metadata)
