"""Outreach material: translations in any language, the language check, the printable page and PDF,
distributions to agencies and which materials reached them, and the training of agencies' staff.

None of it belongs to a partnership: admin keys record it, every reader reads it.
"""
