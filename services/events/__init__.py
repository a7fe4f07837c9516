"""The events service, one folder per capability: ``programme`` (community and special events, the
partnership calendar, community connections) and ``materials`` (outreach material and its languages,
distributions, trainings), mounted by ``app.py``.

What both share sits here: ``tables.py`` (one schema, one migration history in ``migrations/``),
``deps.py``, ``records.py`` and ``conditions.py``.
"""
