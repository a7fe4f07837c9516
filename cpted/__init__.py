"""The ``cpted`` command line, the local development platform (``cpted dev``) and its demo data."""
