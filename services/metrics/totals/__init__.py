"""Running totals: the projections of the producers' events (latest states, counters) and the totals API."""
