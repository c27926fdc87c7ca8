"""Moved to :mod:`socialcredit.screening.sdn` (external lists are the screening stage's);
kept so that existing imports keep working."""

from socialcredit.screening.sdn import (
    SdnDocument,
    SdnFormatError,
    SdnIndividual,
    SdnProblem,
    SdnReadResult,
    normalise_document_number,
    parse_remarks,
    read_sdn,
)

__all__ = [
    "SdnDocument", "SdnFormatError", "SdnIndividual", "SdnProblem", "SdnReadResult",
    "normalise_document_number", "parse_remarks", "read_sdn",
]
