"""Moved to :mod:`socialcredit.screening.gate_lists`; kept so that existing imports keep
working."""

from socialcredit.screening.gate_lists import (
    DOCUMENT_KINDS,
    MIN_DOCUMENT_CHARS,
    ExternalImportResult,
    import_ofac_sdn,
)

__all__ = ["DOCUMENT_KINDS", "MIN_DOCUMENT_CHARS", "ExternalImportResult", "import_ofac_sdn"]
