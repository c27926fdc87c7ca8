"""Phone numbers to E.164 with Google's libphonenumber (``phonenumbers``)."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers

from socialcredit.errors import IdentifierError

__all__ = ["normalise_phone"]


@lru_cache(maxsize=262_144)
def normalise_phone(raw: str, default_region: str = "CN") -> str:
    """Return ``raw`` in E.164 form (``+8613812345678``).

    A number without ``+`` is read in ``default_region`` (ISO 3166-1 alpha-2).

    Raises:
        IdentifierError: not a phone number, or not a valid number for its region.
    """
    text = str(raw).strip()
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as e:
        raise IdentifierError(f"{text!r} is not a phone number: {e}") from e
    if not phonenumbers.is_valid_number(number):
        raise IdentifierError(f"{text!r} is not a valid phone number for its region")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
