"""OGC API - Features at ``/ogc``: the audits' records, events and monthly incident counts as feature collections."""
