"""Free text people and operators write (a dispute's reason, a statement of evidence, an
operator's note), checked the same way at every door. A low module beside ``errors``: the
identity review queue and the due-process workflows both use it, and neither imports the
other for it (issue #18, DESIGN §5)."""

from __future__ import annotations

from socialcredit.errors import InputError

__all__ = ["clean_text"]


def clean_text(value: str, what: str, limit: int = 2000) -> str:
    """A person's free text (a reason, a statement of evidence), stripped.

    Raises:
        InputError: empty, longer than ``limit`` characters, or holding control characters
            or lone surrogates (no store keeps them alike).
    """
    text = (value or "").strip()
    if not text:
        raise InputError(f"give a {what}: what is wrong, in a few words")
    if len(text) > limit:
        raise InputError(f"the {what} is limited to {limit:,} characters")
    if any((ord(ch) < 32 and ch not in "\n\r\t") or 0xD800 <= ord(ch) <= 0xDFFF
           for ch in text):
        raise InputError(f"the {what} holds control characters; write plain text")
    return text
