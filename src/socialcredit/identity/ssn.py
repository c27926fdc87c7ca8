"""US Social Security numbers (scheme ``us.ssn`` of :mod:`socialcredit.identity.national_id`).

An SSN is nine digits, ``AAA-GG-SSSS``: area, group and serial. It carries no check digit,
no birth date, no sex and (since randomisation on 25 June 2011) no state: nothing about the
person can be read from it. The Social Security Administration has never issued and will not
issue (SSA, "Social Security Number Randomization" fact sheet, 2011; the exact manual section
was not checked here):

* area ``000``, area ``666`` and areas ``900``–``999`` (the 9xx range is used for Individual
  Taxpayer Identification Numbers, which are not SSNs);
* group ``00``;
* serial ``0000``.

Those are refused with the part that is wrong in ``details["reason"]`` (``area``, ``group``,
``serial``), so a furnisher can tell a typo from a placeholder. python-stdnum's
``stdnum.us.ssn`` then checks the rest (it also refuses numbers published in advertising,
such as 078-05-1120, with reason ``advertised``).
"""

from __future__ import annotations

from stdnum.exceptions import ValidationError as StdnumError
from stdnum.us import ssn as stdnum_ssn

from socialcredit.errors import IdentifierError

__all__ = ["NEVER_ISSUED", "parse_ssn"]

#: The never-issued parts (module docstring): part → reason shown to the furnisher.
NEVER_ISSUED = {
    "area": "an SSN area (first three digits) of 000, 666 or 900-999 is never issued (SSA)",
    "group": "an SSN group (digits 4-5) of 00 is never issued (SSA)",
    "serial": "an SSN serial (last four digits) of 0000 is never issued (SSA)",
}


def parse_ssn(text: str, compact: str) -> str:
    """The nine digits of an SSN given as ``text`` (``123-45-6789``, ``123 45 6789``,
    ``123456789``), ``compact`` being ``text`` after the one identifier normalisation
    (:func:`socialcredit.identity.national_id.normalise_id_text`: full-width digits and
    dashes, spaces and hyphens between groups). ``text`` is quoted in the messages.

    Raises:
        IdentifierError: ``details["reason"]`` is ``length`` (not nine ASCII digits),
            ``area``, ``group`` or ``serial`` (a never-issued part, module docstring), or
            ``advertised`` (a number python-stdnum knows was published and is invalid).
    """
    if len(compact) != 9 or not compact.isascii() or not compact.isdigit():
        raise IdentifierError(f"SSN {text!r} must be nine digits (AAA-GG-SSSS)",
                              details={"reason": "length"})
    area, group, serial = compact[:3], compact[3:5], compact[5:]
    for part, bad in (("area", area in ("000", "666") or area.startswith("9")),
                      ("group", group == "00"), ("serial", serial == "0000")):
        if bad:
            raise IdentifierError(f"SSN {text!r} is not a valid SSN: {NEVER_ISSUED[part]}",
                                  details={"reason": part})
    try:
        return str(stdnum_ssn.validate(compact))
    except StdnumError as e:
        raise IdentifierError(f"SSN {text!r} is not a valid SSN: it is a number published in "
                              "advertising or otherwise known to be invalid (python-stdnum)",
                              details={"reason": "advertised"}) from e
