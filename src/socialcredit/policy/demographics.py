"""The disparate-impact population when the national ID embeds nothing (a US SSN): groups read
from what furnishers state, as the policy's ``identity.demographics`` says.

* ``age: furnished`` — the ``birth_date`` furnishers put on their rows (kept on the subject
  from the first record that gave one; Metro 2's base segment carries a date of birth);
* ``region: address_state`` — the US state of the newest address furnishers gave for the
  subject: the USPS two-letter code before the ZIP code that ends a US address (USPS
  Publication 28, §2: ``… SPRINGFIELD IL 62701`` or ``…, Springfield, IL 62701-1234``). An
  address without one leaves the person out of the region groups only. The phone's area code
  was not used: numbers are portable across states (47 CFR 52.21-52.36) and people keep them
  when they move, so it says where a person once lived, not where they live;
* ``sex: furnished`` — the ``sex`` furnishers state (the US policy collects none: ``none``).

:func:`furnished_people` returns ``(subject_id, state, birth_date, sex)`` rows whose absent
fields are None; :mod:`socialcredit.reports.impact` makes them its ``Person`` rows and groups
each dimension over the people who have it.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from socialcredit.policy.model import Policy
from socialcredit.store import Store
from socialcredit.store.tables import identifiers, records, subjects

__all__ = ["US_STATES", "Furnished", "furnished_people", "state_of_address"]

#: USPS state and territory codes (USPS Publication 28, Appendix B) → name.
US_STATES: dict[str, str] = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia",
    "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois",
    "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan",
    "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana",
    "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey",
    "NM": "New Mexico", "NY": "New York", "NC": "North Carolina", "ND": "North Dakota",
    "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania",
    "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee",
    "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
    "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming", "PR": "Puerto Rico",
    "GU": "Guam", "VI": "U.S. Virgin Islands", "AS": "American Samoa",
    "MP": "Northern Mariana Islands",
}

_STATE_ZIP = re.compile(r"(?:^|[\s,])([A-Za-z]{2})[\s,]+\d{5}(?:-\d{4})?\s*$")


def state_of_address(address: str | None) -> str | None:
    """The USPS state code ending a US address (``"1 Main St, Springfield, IL 62701"`` →
    ``"IL"``), or None when it ends otherwise or the code is not a state or territory."""
    if not address:
        return None
    m = _STATE_ZIP.search(address.strip())
    code = m.group(1).upper() if m else None
    return code if code in US_STATES else None


#: ``(subject_id, state, birth_date, sex)``, None where the data does not say.
Furnished = tuple[int, str | None, dt.date | None, str | None]


def furnished_people(store: Store, policy: Policy) -> list[Furnished]:
    """Subjects (persons, not merged away) with a national ID, each with the groups the
    policy's ``identity.demographics`` allows from furnished data (module docstring); a
    group the policy marks ``none`` is None for everyone."""
    d = policy.identity.demographics
    with store.read() as conn:
        base = {r.id: r for r in conn.execute(
            select(subjects.c.id, subjects.c.birth_date, subjects.c.sex)
            .where(subjects.c.merged_into.is_(None), subjects.c.kind == "person",
                   subjects.c.id.in_(select(identifiers.c.subject_id).where(
                       identifiers.c.kind == "national_id"))))}
        states: dict[int, str] = {}
        if d.region == "address_state":
            newest: dict[int, tuple[str, int]] = {}
            for r in conn.execute(select(records.c.subject_id, records.c.occurred_at,
                                         records.c.id, records.c.address).where(
                    records.c.address.is_not(None), records.c.subject_id.is_not(None),
                    records.c.status != "retired")):
                state = state_of_address(r.address)
                rank = (r.occurred_at, int(r.id))
                if state and (r.subject_id not in newest or rank > newest[r.subject_id]):
                    newest[r.subject_id] = rank
                    states[r.subject_id] = state
    out: list[Furnished] = []
    for sid, subject in sorted(base.items()):
        birth = (dt.date.fromisoformat(subject.birth_date)
                 if d.age == "furnished" and subject.birth_date else None)
        sex = subject.sex if d.sex == "furnished" and subject.sex in ("M", "F") else None
        out.append((sid, states.get(sid), birth, sex))
    return out
