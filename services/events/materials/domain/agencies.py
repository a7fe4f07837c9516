"""Agencies are named by hand: one spelling of spacing, and names compared without regard to case.

So that reports group "Windsor  Police" with "Windsor Police", and "windsor police" with both.
"""

from __future__ import annotations


def spelled(name: str) -> str:
    return " ".join(name.split())


def key(name: str) -> str:
    return spelled(name).casefold()
