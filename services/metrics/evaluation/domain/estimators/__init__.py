"""Estimators beyond the published before/after formulas: pure functions of counts, each answering a frozen dataclass.

Every answer carries ``method`` (what was computed, in words a reviewer can check against ``docs/estimators.md``)
and ``reason`` (why it refused, or ``None``). A refusal keeps the figures ``None`` rather than guessing.
"""
