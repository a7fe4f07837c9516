"""Keeping the projections: the stream consumer, the projector, the repair of what the bus lost, rebuilds."""
