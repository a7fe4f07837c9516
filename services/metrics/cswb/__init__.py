"""The nightly CSWB feeds: built from the projections, published with their JSON Schema, delivered signed."""
