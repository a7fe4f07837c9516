"""The audits service, one folder per capability (``core``, ``photos``, ``requests``, ``open311``, ``ogc``).

What the whole service shares sits here: ``app.py``, ``settings.py``, ``deps.py``, ``tables.py``, ``migrations/``.
"""
