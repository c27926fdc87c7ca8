"""What the trusted-channel tests of this folder share (issue #20, finding 1): a registry with
its own outbox and fast clocks, served on 127.0.0.1; a policy file with other phone settings;
and the way a carrier registers a person's phone (the default policy's authoritative source).

A module that needs people in the registry before it is served overrides the ``seed`` fixture
with a function ``(registry, tmp_path) -> None``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import TODAY, write_csv
from servers import running
from socialcredit.api.keys import add_furnisher, furnisher_id
from socialcredit.api.registry import Registry
from socialcredit.errors import NotFound
from socialcredit.ingest.pipeline import ingest_file
from socialcredit.settings import DEFAULT_POLICY_PATH, Settings

Seed = Callable[[Registry, Path], None]


def channel_registry(db_url: str, tmp_path: Path, policy: Path = DEFAULT_POLICY_PATH
                     ) -> Registry:
    """A registry on ``db_url`` with its outbox under ``tmp_path`` and clocks every 0.2 s."""
    reg = Registry(Settings(database_url=db_url, notices_dir=tmp_path / "notices",
                            clocks_every_seconds=0.2, policy_path=policy), today=TODAY)
    reg.ensure_schema()
    return reg


def phone_policy(tmp_path: Path, **settings: str) -> Path:
    """The default policy with ``identity.phone`` settings replaced (YAML values as text,
    e.g. ``channel_corroborating_furnishers="2"``), written under ``tmp_path``."""
    lines = DEFAULT_POLICY_PATH.read_text(encoding="utf-8").splitlines(keepends=True)
    for name, value in settings.items():
        at = [i for i, line in enumerate(lines) if line.startswith(f"    {name}:")]
        assert len(at) == 1, f"the default policy sets identity.phone.{name} once"
        lines[at[0]] = f"    {name}: {value}\n"
    path = tmp_path / "phone-policy.yaml"
    path.write_text("".join(lines), encoding="utf-8")
    return path


def carrier_registers(reg: Registry, tmp_path: Path, national_id: str, phone: str, *,
                      day: str = "2026-01-05", carrier: str = "carrier-cmcc") -> None:
    """``carrier`` (registered as kind ``carrier`` if new) sends its real-name registration of
    ``phone`` to ``national_id`` as a file (record kind ``phone_registration``)."""
    try:
        fid = furnisher_id(reg.store, carrier)
    except NotFound:
        add_furnisher(reg.store, name=carrier, kind="carrier")
        fid = furnisher_id(reg.store, carrier)
    path = write_csv(tmp_path / f"{carrier}-{national_id}-{phone[1:]}.csv", [{
        "furnisher_record_id": f"RN-{national_id}-{phone}", "kind": "phone_registration",
        "occurred_at": day, "national_id": national_id, "phone": phone, "name": "林晓",
        "registration_id": f"RN-{phone}"}])
    result = ingest_file(reg.store, reg.policy, furnisher_id=fid, path=path, as_of=TODAY)
    assert result.accepted == 1, result.problems


@pytest.fixture
def seed() -> Seed:
    """Nothing before serving (override in a module)."""
    return lambda _reg, _tmp: None


@pytest.fixture
def served(db_url: str, tmp_path: Path, seed: Seed) -> Iterator[tuple[str, Registry]]:
    """(base URL, registry) of a fresh registry, seeded, served on 127.0.0.1."""
    reg = channel_registry(db_url, tmp_path)
    seed(reg, tmp_path)
    with running(reg) as base:
        yield base, reg
    reg.close()
