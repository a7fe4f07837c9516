"""The ``cpted`` command line and the local development platform."""
