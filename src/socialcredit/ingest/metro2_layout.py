"""The Metro 2® character format: record layouts and code tables.

Metro 2 is the US consumer credit reporting format of the Consumer Data Industry Association
(CDIA, *Credit Reporting Resource Guide*, "CRRG"). A file in the **character format** is a
header record, base segments (one per account and month) each followed by its optional
appended segments, and a trailer record. The header, every base segment and the trailer are
426 bytes; the appended segments are J1 (associated consumer, same address) 100, J2
(associated consumer, other address) 200, K1 (original creditor) 34, K2 (purchased from /
sold to) 34, K3 (mortgage information) 40, K4 (specialized payment) 30, L1 (account number
change) 54 and N1 (employment) 146. Each record starts with its record descriptor word (RDW):
four digits, the record's length in bytes. Records are separated by a line break, or follow
one another with none (framed by the RDW alone).

Positions here are the CRRG's: 1-based and inclusive, as ``(start, length)`` of
:class:`Field`. They agree with the layouts in two public readers (the CFPB's Metro 2 evaluator,
``cfpb/Metro2`` ``parse_m2/fields.py``; ``moov-io/metro2`` ``pkg/lib/specifications.go``),
which were read, not copied. The **packed** format (binary numbers, 366-byte records) is not
read.

Field kinds: ``A`` text (blank-padded), ``N`` a whole number (zero-filled; all blanks read as
zero), ``D`` a date ``MMDDYYYY`` (zeros or blanks: none), ``T`` a timestamp ``MMDDYYYYHHMMSS``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BASE", "BASE_LENGTH", "BANKRUPTCY", "COMPLIANCE_CONDITIONS", "DISPUTE_STATES",
           "ECOA_CODES", "HEADER", "HISTORY_CODES", "PAYMENT_RATINGS", "PORTFOLIO_TYPES",
           "SEGMENTS", "STATUSES", "TRAILER", "Field", "Status"]


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a record: ``name``, 1-based ``start`` byte, ``length`` in bytes, ``kind``
    (``A``, ``N``, ``D`` or ``T``, see the module docstring)."""

    name: str
    start: int
    length: int
    kind: str = "A"

    @property
    def end(self) -> int:
        """The last byte of the field (1-based, inclusive)."""
        return self.start + self.length - 1


def _layout(*fields: tuple[str, int, int, str]) -> tuple[Field, ...]:
    return tuple(Field(*f) for f in fields)


#: Length of the header, of a base segment and of the trailer, in bytes.
BASE_LENGTH = 426

HEADER = _layout(
    ("record_descriptor_word", 1, 4, "N"), ("record_identifier", 5, 6, "A"),
    ("cycle_identifier", 11, 2, "A"), ("innovis_program_identifier", 13, 10, "A"),
    ("equifax_program_identifier", 23, 10, "A"), ("experian_program_identifier", 33, 5, "A"),
    ("transunion_program_identifier", 38, 10, "A"), ("activity_date", 48, 8, "D"),
    ("date_created", 56, 8, "D"), ("program_date", 64, 8, "D"),
    ("program_revision_date", 72, 8, "D"), ("reporter_name", 80, 40, "A"),
    ("reporter_address", 120, 96, "A"), ("reporter_telephone_number", 216, 10, "N"),
    ("software_vendor_name", 226, 40, "A"), ("software_version_number", 266, 5, "A"),
    ("prbc_program_identifier", 271, 10, "A"),
)

BASE = _layout(
    ("record_descriptor_word", 1, 4, "N"), ("processing_indicator", 5, 1, "A"),
    ("time_stamp", 6, 14, "T"), ("correction_indicator", 20, 1, "A"),
    ("identification_number", 21, 20, "A"), ("cycle_identifier", 41, 2, "A"),
    ("consumer_account_number", 43, 30, "A"), ("portfolio_type", 73, 1, "A"),
    ("account_type", 74, 2, "A"), ("date_opened", 76, 8, "D"),
    ("credit_limit", 84, 9, "N"), ("highest_credit", 93, 9, "N"),
    ("terms_duration", 102, 3, "A"), ("terms_frequency", 105, 1, "A"),
    ("scheduled_monthly_payment", 106, 9, "N"), ("actual_payment_amount", 115, 9, "N"),
    ("account_status", 124, 2, "A"), ("payment_rating", 126, 1, "A"),
    ("payment_history_profile", 127, 24, "A"), ("special_comment", 151, 2, "A"),
    ("compliance_condition_code", 153, 2, "A"), ("current_balance", 155, 9, "N"),
    ("amount_past_due", 164, 9, "N"), ("original_charge_off_amount", 173, 9, "N"),
    ("date_of_account_information", 182, 8, "D"),
    ("date_of_first_delinquency", 190, 8, "D"), ("date_closed", 198, 8, "D"),
    ("date_of_last_payment", 206, 8, "D"), ("interest_type_indicator", 214, 1, "A"),
    ("surname", 232, 25, "A"), ("first_name", 257, 20, "A"), ("middle_name", 277, 20, "A"),
    ("generation_code", 297, 1, "A"), ("social_security_number", 298, 9, "A"),
    ("date_of_birth", 307, 8, "D"), ("telephone_number", 315, 10, "N"),
    ("ecoa_code", 325, 1, "A"), ("consumer_information_indicator", 326, 2, "A"),
    ("country_code", 328, 2, "A"), ("address_line_1", 330, 32, "A"),
    ("address_line_2", 362, 32, "A"), ("city", 394, 20, "A"), ("state", 414, 2, "A"),
    ("postal_code", 416, 9, "A"), ("address_indicator", 425, 1, "A"),
    ("residence_code", 426, 1, "A"),
)

_CONSUMER = (
    ("segment_identifier", 1, 2, "A"), ("surname", 4, 25, "A"), ("first_name", 29, 20, "A"),
    ("middle_name", 49, 20, "A"), ("generation_code", 69, 1, "A"),
    ("social_security_number", 70, 9, "A"), ("date_of_birth", 79, 8, "D"),
    ("telephone_number", 87, 10, "N"), ("ecoa_code", 97, 1, "A"),
    ("consumer_information_indicator", 98, 2, "A"),
)

#: Appended segments by identifier: (length in bytes, fields).
SEGMENTS: dict[str, tuple[int, tuple[Field, ...]]] = {
    "J1": (100, _layout(*_CONSUMER)),
    "J2": (200, _layout(*_CONSUMER, ("country_code", 100, 2, "A"),
                        ("address_line_1", 102, 32, "A"), ("address_line_2", 134, 32, "A"),
                        ("city", 166, 20, "A"), ("state", 186, 2, "A"),
                        ("postal_code", 188, 9, "A"))),
    "K1": (34, _layout(("segment_identifier", 1, 2, "A"),
                       ("original_creditor_name", 3, 30, "A"),
                       ("creditor_classification", 33, 2, "N"))),
    "K2": (34, _layout(("segment_identifier", 1, 2, "A"),
                       ("purchased_sold_indicator", 3, 1, "A"),
                       ("purchased_sold_name", 4, 30, "A"))),
    "K3": (40, _layout(("segment_identifier", 1, 2, "A"), ("agency_identifier", 3, 2, "N"),
                       ("agency_account_number", 5, 18, "A"),
                       ("mortgage_identification_number", 23, 18, "A"))),
    "K4": (30, _layout(("segment_identifier", 1, 2, "A"),
                       ("specialized_payment_indicator", 3, 2, "N"),
                       ("deferred_payment_start_date", 5, 8, "D"),
                       ("balloon_payment_due_date", 13, 8, "D"),
                       ("balloon_payment_amount", 21, 9, "N"))),
    "L1": (54, _layout(("segment_identifier", 1, 2, "A"), ("change_indicator", 3, 1, "A"),
                       ("new_consumer_account_number", 4, 30, "A"),
                       ("new_identification_number", 34, 20, "A"))),
    "N1": (146, _layout(("segment_identifier", 1, 2, "A"), ("employer_name", 3, 30, "A"),
                        ("occupation", 128, 18, "A"))),
}

TRAILER = _layout(
    ("record_descriptor_word", 1, 4, "N"), ("record_identifier", 5, 7, "A"),
    ("total_base_records", 12, 9, "N"), ("total_status_code_df", 30, 9, "N"),
    ("total_j1_segments", 39, 9, "N"), ("total_j2_segments", 48, 9, "N"),
    ("block_count", 57, 9, "N"),
)


@dataclass(frozen=True, slots=True)
class Status:
    """An account status code (CRRG base field 17A): what it says, and its ``outcome`` for the
    registry: ``current``, ``paid``, ``delinquent`` (past due: ``days_past_due`` is the
    lower bound of its band), ``derogatory`` (collection, charge-off, repossession,
    foreclosure: days past due come from the payment rating or the date of first
    delinquency), ``transferred`` (by the payment rating) or ``delete``."""

    description: str
    outcome: str
    days_past_due: int | None = None


STATUSES: dict[str, Status] = {
    "05": Status("account transferred to another office or sold", "transferred"),
    "11": Status("current account (0-29 days past the due date)", "current"),
    "13": Status("paid or closed account, zero balance", "paid"),
    "61": Status("account paid in full, was a voluntary surrender", "paid"),
    "62": Status("account paid in full, was a collection account", "paid"),
    "63": Status("account paid in full, was a repossession", "paid"),
    "64": Status("account paid in full, was a charge-off", "paid"),
    "65": Status("account paid in full, a foreclosure was started", "paid"),
    "71": Status("30-59 days past the due date", "delinquent", 30),
    "78": Status("60-89 days past the due date", "delinquent", 60),
    "80": Status("90-119 days past the due date", "delinquent", 90),
    "82": Status("120-149 days past the due date", "delinquent", 120),
    "83": Status("150-179 days past the due date", "delinquent", 150),
    "84": Status("180 days or more past the due date", "delinquent", 180),
    "88": Status("claim filed with the government for a defaulted loan", "derogatory"),
    "89": Status("deed received in lieu of foreclosure", "derogatory"),
    "93": Status("account assigned to internal or external collections", "derogatory"),
    "94": Status("foreclosure completed", "derogatory"),
    "95": Status("voluntary surrender", "derogatory"),
    "96": Status("merchandise was repossessed", "derogatory"),
    "97": Status("unpaid balance reported as a loss (charge-off)", "derogatory"),
    "DA": Status("delete entire account (for reasons other than fraud)", "delete"),
    "DF": Status("delete entire account due to confirmed fraud", "delete"),
}

#: Payment rating (field 17B): days past due at the status's time, 0 current; G collection,
#: L charge-off (no band of days).
PAYMENT_RATINGS = {"0": 0, "1": 30, "2": 60, "3": 90, "4": 120, "5": 150, "6": 180,
                   "G": None, "L": None}
#: Characters of the 24-month payment history profile (field 18), most recent month first.
HISTORY_CODES = frozenset("0123456BDEGHJKLZ ")
PORTFOLIO_TYPES = {"C": "line of credit", "I": "installment", "M": "mortgage", "O": "open",
                   "R": "revolving"}
#: ECOA codes (field 37): the consumer's relation to the account (T terminated, X deceased,
#: Z delete the consumer from the account).
ECOA_CODES = frozenset("12357TWXZ")

#: Compliance condition codes (field 20): the account's dispute or closure condition under the
#: FCRA (15 U.S.C. 1681s-2(a)(3): a furnisher reports a disputed account as disputed) and the
#: Fair Credit Billing Act (FCBA, 15 U.S.C. 1666).
COMPLIANCE_CONDITIONS = {
    "XA": "account closed at the consumer's request",
    "XB": "account information disputed by the consumer under the FCRA",
    "XC": "FCRA dispute investigation completed; the consumer disagrees",
    "XD": "account closed at the consumer's request; in dispute under the FCRA",
    "XE": "account closed at the consumer's request; FCRA dispute investigation completed, "
          "the consumer disagrees",
    "XF": "account in dispute under the FCBA",
    "XG": "FCBA dispute resolved; the consumer disagrees",
    "XH": "account previously in dispute; the furnisher's investigation is completed",
    "XJ": "account closed at the consumer's request; in dispute under the FCBA",
    "XR": "removes the compliance condition code reported before",
}
#: The dispute state each dispute code says: ``open`` (being investigated),
#: ``consumer_disagrees`` (investigated, the consumer disagrees), ``resolved``.
DISPUTE_STATES = {"XB": "open", "XD": "open", "XF": "open", "XJ": "open",
                  "XC": "consumer_disagrees", "XE": "consumer_disagrees",
                  "XG": "consumer_disagrees", "XH": "resolved"}

#: Consumer information indicators (field 38) that report a bankruptcy under the US Bankruptcy
#: Code (11 U.S.C.): code → (state, chapter). Other indicators (Q, S removals; R
#: reaffirmation; T, U cannot locate / located; 1A-2G lease and receivership) carry no
#: bankruptcy state.
BANKRUPTCY = {
    **{code: ("petitioned", ch) for code, ch in zip("ABCD", (7, 11, 12, 13), strict=True)},
    **{code: ("discharged", ch) for code, ch in zip("EFGH", (7, 11, 12, 13), strict=True)},
    **{code: ("dismissed", ch) for code, ch in zip("IJKL", (7, 11, 12, 13), strict=True)},
    **{code: ("withdrawn", ch) for code, ch in zip("MNOP", (7, 11, 12, 13), strict=True)},
}
