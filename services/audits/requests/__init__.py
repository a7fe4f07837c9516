"""Audit requests: residents' and 311 systems' requests for an audit of a place, and their triage."""
