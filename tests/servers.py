"""The servers a test run uses (see cpted/scratch.py)."""

from cpted.scratch import ScratchServers, free_port, fresh_database


class TestServers(ScratchServers):
    __test__ = False  # not a test class, whatever pytest thinks of its name


__all__ = ["TestServers", "free_port", "fresh_database"]
