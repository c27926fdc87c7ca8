"""Disclosure: the public search platform (subject files and disputes come later)."""

from socialcredit.disclosure.public import mask_identifier, search_public

__all__ = ["mask_identifier", "search_public"]
