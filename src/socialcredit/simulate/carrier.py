"""The carrier furnisher: ``phone_registration`` rows, a carrier's real-name registration.

China's telephone real-name rules (MIIT Provisions on the Registration of Real Identity
Information of Telephone Users, 2013, MIIT Order No. 25; Anti-Telecom and Online Fraud Law of
the PRC, 2022, Art. 9) make a carrier register every number to its subscriber's national ID.
The default policy names ``carrier`` in ``identity.phone.authoritative_furnisher_kinds``: such
a row is what gives a person the trusted phone their sign-in codes and notices go to (no other
furnisher's data does, issue #20).

Figures (sources / assumptions):

* the carrier reports only people some other furnisher reported with their national ID in the
  simulated years (assumption: the registry asks the carrier for the registration of the
  people it holds, as a real-name verification service answers; it does not import every
  subscriber, which would register people with no record);
* every such person has one number, the one of ``population.csv``, registered on a day drawn
  uniformly within the four simulated years; each row carries ID, phone and name and the
  carrier's ``registration_id``.

One furnisher, ``carrier-cmcc`` (kind ``carrier``), stands for every carrier of the simulated
population; a real registry has one per carrier (China Mobile, China Unicom, China Telecom,
China Broadnet).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from socialcredit.simulate.dates import shift_years
from socialcredit.simulate.people import PeopleBlock

__all__ = ["CARRIER", "carrier_block"]

CARRIER = "carrier-cmcc"
_EPOCH = dt.date(1970, 1, 1)


def carrier_block(rng: np.random.Generator, block: PeopleBlock, as_of: dt.date,
                  reported: list[pa.Array]) -> dict[str, pa.Array]:
    """``phone_registration`` rows of :data:`CARRIER` (spool columns, see
    :mod:`socialcredit.simulate.spool`, in generation order) for the people of ``block`` whose
    national ID occurs in ``reported`` (the other furnishers' ``national_id`` columns of the
    block; nulls ignored)."""
    ids = pa.concat_arrays([pc.cast(a, pa.string()) for a in reported]) if reported else (
        pa.array([], pa.string()))
    mask = pc.is_in(block.national_id, value_set=pc.drop_null(ids)).to_numpy(
        zero_copy_only=False)
    who = np.nonzero(mask)[0]
    first, last = (shift_years(as_of, -4) - _EPOCH).days, (as_of - _EPOCH).days
    days = rng.integers(first, last + 1, len(who)).astype(np.int32)
    rows = pa.array(who)
    numbers = pc.cast(pa.array(block.start + who), pa.string())
    return {
        "_day": pa.array(days),
        "_key": pa.array((block.index << 32) + np.arange(len(who))),
        "kind": pa.array(["phone_registration"] * len(who), pa.string()),
        "occurred_at": pa.array(days, pa.date32()),
        "national_id": block.national_id.take(rows),
        "phone": block.phone.take(rows),
        "name": block.name.take(rows),
        "registration_id": pc.binary_join_element_wise(
            "RN-", pc.utf8_lpad(numbers, 9, "0"), ""),
    }
