"""Calls this platform makes to other systems: signed deliveries and their outcomes."""
