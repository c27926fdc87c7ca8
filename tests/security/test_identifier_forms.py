"""One national ID normalisation for every door (case ``fullwidth-x``, issue #20 finding 2).

A court sends the same woman twice: once with an ASCII ID ending in ``X``, once typed in
full-width digits with a full-width lower-case ``ｘ`` (as East Asian input methods produce).
Both rows must link to one subject, the finding must list her, and every door — gate
decisions over HTTP, the operator's ``check``, public search, sign-in and its per-pair rate
limit — must give the same answer for the ID in any form: ASCII, full-width, lower or upper
case check character, spaces or hyphens between the groups.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from conftest import TODAY, furnish, make_id
from servers import running
from socialcredit.api.keys import add_gate
from socialcredit.api.registry import Registry
from socialcredit.cli import app as cli
from socialcredit.identity.national_id import normalise_id_text
from socialcredit.settings import Settings
from socialcredit.store.tables import list_entries, subjects

ASCII_ID = make_id(region="110105", birth="19491231", seq=2)
_WIDE = str.maketrans("0123456789X", "０１２３４５６７８９ｘ")


def _forms(nid: str) -> list[str]:
    wide = nid.translate(_WIDE)
    groups = (nid[:6], nid[6:14], nid[14:])
    return [nid, nid.lower(), wide, wide.replace("ｘ", "Ｘ"), wide[:-1] + "X",
            " ".join(groups), "-".join(groups).lower(), "－".join(g.translate(_WIDE)
                                                                for g in groups),
            "\u3000".join(groups)]


def test_the_normalisation_function() -> None:
    assert ASCII_ID.endswith("X")  # the case needs a check character X
    assert {normalise_id_text(f) for f in _forms(ASCII_ID)} == {ASCII_ID}
    # nothing outside the listed forms becomes valid: a superscript digit stays
    assert normalise_id_text("11010519491231002²") != ASCII_ID


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[tuple[str, Registry, str]]:
    reg = Registry(Settings(database_url=db_url, notices_dir=tmp_path / "notices"),
                   today=TODAY)
    reg.ensure_schema()
    common = {"occurred_at": "2026-05-01", "phone": "13600001234", "name": "张丽",
              "birth_date": "1949-12-31", "sex": "F", "case_number": "(2026)京0105执300号",
              "amount_minor": 500_000, "currency": "CNY"}
    furnish(reg, tmp_path, "court-bj", "court", [
        {"furnisher_record_id": "J-1", "kind": "court_judgment", "national_id": ASCII_ID,
         **common}])
    furnish(reg, tmp_path, "court-bj", "court", [
        {"furnisher_record_id": "F-1", "kind": "dishonesty_finding", "ground": 1,
         "national_id": ASCII_ID.translate(_WIDE), **common,
         "phone": "１３６００００１２３４"}])
    gate = add_gate(reg.store, reg.policy, name="airline", services=["air"])
    with running(reg) as base:
        yield base, reg, gate
    reg.close()


def test_every_door_reads_every_form_alike(served: tuple[str, Registry, str]) -> None:
    base, reg, gate = served
    with reg.store.read() as conn:
        assert conn.execute(select(func.count()).select_from(subjects)).scalar() == 1
        assert conn.execute(select(func.count()).select_from(list_entries).where(
            list_entries.c.status == "active")).scalar() == 1
    with httpx.Client(base_url=base, timeout=20) as c:
        for form in _forms(ASCII_ID):
            r = c.post("/v1/decisions", json={"service": "air", "national_id": form},
                       headers={"Authorization": f"Bearer {gate}"})
            assert r.status_code == 200 and r.json()["decision"] == "deny", (form, r.text)
            r = c.get("/v1/public/entries", params={"q": form})
            assert r.status_code == 200 and r.json()["count"] == 1, (form, r.text)
        # one per-pair sign-in limit whatever the form: five codes an hour, then 429
        answers = [c.post("/v1/me/sign-in", json={"national_id": form, "phone": "13600001234"}
                          ).status_code for form in _forms(ASCII_ID)[:6]]
        assert answers == [202] * 5 + [429]
    for form in (ASCII_ID.translate(_WIDE), " ".join((ASCII_ID[:6], ASCII_ID[6:14],
                                                       ASCII_ID[14:])).lower()):
        result = CliRunner().invoke(cli, ["--database-url", reg.settings.database_url, "check",
                                          "--service", "air", "--national-id", form,
                                          "--as-of", TODAY.isoformat()])
        assert result.exit_code == 3, (form, result.output)
