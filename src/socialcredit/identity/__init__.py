"""Identity: identifier normalisation and deterministic linkage of records to subjects."""

from socialcredit.identity.national_id import NationalId, NationalIdScheme, scheme_for
from socialcredit.identity.phone import normalise_phone

__all__ = ["NationalId", "NationalIdScheme", "normalise_phone", "scheme_for"]
