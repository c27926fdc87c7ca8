"""The generator of the linkage model shipped with the package (``identity/default_model.json``).

A fresh registry has no data to train on, so it links with a model trained on a simulated
population (:mod:`socialcredit.simulate.population`: realistic name frequencies, valid IDs,
phones) and furnisher-like records about it with the faults issue #3 names: national IDs with
one wrong or two swapped digits or none at all, names in Han script or pinyin in either order,
birth-date typos and day/month swaps, address typos and moves, shared family phones, and records
about people the registry does not know. ``socialcredit link --retrain`` replaces it with a
model trained on the registry's own data. The generator lives with the simulator whose
population it trains on, so that identity never imports the simulator (issue #18).

Regenerate (deterministic for the seed; ``tests/test_linkage.py`` checks the shipped file is
what this produces)::

    python -m socialcredit.simulate.default_model
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import pandas as pd

from socialcredit.identity.model import LinkageModel, train
from socialcredit.identity.names import name_forms
from socialcredit.simulate.identifiers import random_mobile
from socialcredit.simulate.population import Person, generate_population

__all__ = ["PATH", "SEED", "build_default_model", "training_frames"]

PATH = Path(__file__).parents[1] / "identity" / "default_model.json"
SEED = 42
AS_OF = dt.date(2026, 1, 1)
_STREETS = ("renmin lu", "jiefang lu", "zhongshan lu", "jianshe lu", "heping jie",
            "xinhua lu", "chaoyang lu", "wenhua lu")
_PINYIN_SHARE, _ID_TYPO, _NO_ID, _DOB_TYPO = 0.3, 0.15, 0.45, 0.05


def _address(rng: random.Random, p: Person) -> str:
    return f"{p.region_code} {rng.choice(_STREETS)} {rng.randint(1, 300)}"


def _typo_id(rng: random.Random, nid: str) -> str:
    i = rng.randrange(17)
    if rng.random() < 0.5:
        return nid[:i] + nid[i + 1] + nid[i] + nid[i + 2:] if i < 16 else nid
    return nid[:i] + rng.choice([d for d in "0123456789" if d != nid[i]]) + nid[i + 1:]


def _dob_typo(rng: random.Random, day: str) -> str:
    y, m, d = day.split("-")
    if rng.random() < 0.5 and int(d) <= 12:
        return f"{y}-{d}-{m}"  # day and month swapped
    return f"{int(y) + rng.choice((-1, 1))}-{m}-{d}"


def _row(uid: str, name: str | None, **kw: Any) -> dict[str, Any]:
    f = name_forms(name)
    return {"unique_id": uid, "family_name": f.family_name, "given_name": f.given_name,
            "full_name": f.full_name, "birth_date": kw.get("birth_date"),
            "national_id": kw.get("national_id"), "phone": kw.get("phone"),
            "occurred_at": kw.get("occurred_at"), "phone_from": kw.get("phone_from"),
            "phone_to": kw.get("phone_to"), "address": kw.get("address")}


def training_frames(people: int = 20_000, *, seed: int = SEED,
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(records, subjects) in the model's input shape (see :mod:`socialcredit.identity.model`).

    ``people`` subjects; about 0.8 × ``people`` records, a fifth of them about people who are
    not subjects (true non-matches)."""
    from pypinyin import lazy_pinyin

    rng = random.Random(seed)
    pop = generate_population(rng, people + people // 5, AS_OF)
    known, strangers = pop[:people], pop[people:]
    households: dict[int, str] = {}
    subj, recs = [], []
    for p in known:
        # a quarter share a family phone with the previous person
        phone = households.get(p.index - 1) if p.index and rng.random() < 0.25 else p.phone
        households[p.index] = phone or p.phone
        since = (AS_OF - dt.timedelta(days=rng.randint(200, 4000))).isoformat()
        subj.append(_row(f"s{p.index}", p.name, birth_date=p.birth_date.isoformat(),
                         national_id=p.national_id, phone=households[p.index],
                         phone_from=since, address=_address(random.Random(p.index), p)))
    for n, p in enumerate(rng.sample(known, k=int(people * 0.6)) + strangers):
        name = p.name
        if rng.random() < _PINYIN_SHARE:
            syll = lazy_pinyin(name)
            words = [syll[0].title(), "".join(syll[1:]).title()]
            name = " ".join(words if rng.random() < 0.5 else words[::-1])
        r = rng.random()
        nid = (None if r < _NO_ID else _typo_id(rng, p.national_id) if r < _NO_ID + _ID_TYPO
               else p.national_id)
        birth = p.birth_date.isoformat()
        if rng.random() < _DOB_TYPO:
            birth = _dob_typo(rng, birth)
        phone = (p.phone if rng.random() < 0.7 else
                 random_mobile(rng) if rng.random() < 0.5 else None)
        occurred = (AS_OF - dt.timedelta(days=rng.randint(0, 150))).isoformat()
        address = _address(random.Random(p.index), p)
        r = rng.random()
        if r < 0.1:  # a typo in the address
            i = rng.randrange(len(address))
            address = address[:i] + rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") \
                + address[i + 1:]
        elif r < 0.2:  # moved since
            address = _address(rng, p)
        recs.append(_row(f"r{n}", name, birth_date=birth if rng.random() < 0.8 else None,
                         national_id=nid, phone=phone, occurred_at=occurred,
                         address=address if rng.random() < 0.5 else None))
    return pd.DataFrame(recs), pd.DataFrame(subj)


def build_default_model(*, seed: int = SEED, people: int = 20_000) -> LinkageModel:
    """Train the shipped model (DuckDB, fixed seed)."""
    left, right = training_frames(people, seed=seed)
    return train([left, right], link_type="link_only", backend="duckdb", seed=seed)


def main() -> None:
    model = build_default_model()
    PATH.write_text(model.to_json(), encoding="utf-8")
    print(f"wrote {PATH} (model {model.version})")  # noqa: T201


if __name__ == "__main__":
    main()
