"""The event bus: the transactional outbox, the relay, the consumer, dead letters, the event log and change feed."""
