"""The gate's key of one identifier: ``national_id:…``, ``phone:…``, ``document:…`` or
``organisation_id:…``, each parsed and normalised by the policy's identity schemes."""

from __future__ import annotations

from socialcredit.errors import InputError
from socialcredit.identity import normalise_phone, scheme_for
from socialcredit.identity.organisation import organisation_scheme_for
from socialcredit.policy.model import Policy
from socialcredit.screening.text import normalise_document_number

__all__ = ["gate_key"]


def gate_key(policy: Policy, national_id: str | None, phone: str | None, document: str | None,
             organisation_id: str | None = None) -> str:
    """The key of the one identifier given.

    Raises:
        InputError: not exactly one identifier, or an empty document number.
        IdentifierError: a malformed or checksum-invalid national ID or organisation code.
    """
    given = [k for k, v in (("national_id", national_id), ("phone", phone),
                            ("document", document), ("organisation_id", organisation_id))
             if v]
    if len(given) != 1:
        raise InputError(
            "give exactly one identifier: national_id, phone, document (passport number) "
            "or organisation_id" + (f" (got {', '.join(given)})" if given else ""),
            details={"fields": given})
    if organisation_id:  # an organisation's code (the USCC in China), checked
        org = policy.identity.organisation_id
        return "organisation_id:" + organisation_scheme_for(org.scheme, org.pattern).parse(
            organisation_id).value
    if national_id:
        ident = policy.identity.national_id
        return "national_id:" + scheme_for(ident.scheme, ident.pattern).parse(
            national_id).value
    if phone:
        return "phone:" + normalise_phone(phone, policy.identity.phone.default_region)
    number = normalise_document_number(document or "")
    if not number:
        raise InputError("document number is empty")
    return "document:" + number
