"""Transparency routes (issue #15): the registry's signed tree heads and Merkle proofs, for
anyone, and each person's receipts.

* ``GET /v1/transparency/key``: the registry's Ed25519 public key (PEM) and its ``key_id``;
* ``GET /v1/transparency/heads/latest``: the newest signed tree head;
* ``GET /v1/transparency/proofs/inclusion?seq=&size=``: event ``seq``'s hash and audit path
  in the tree of ``size`` events (never the event's content);
* ``GET /v1/transparency/proofs/consistency?first=&second=``: that the tree of ``first``
  events is a prefix of the tree of ``second``;
* ``GET /v1/me/receipts``: the signed-in person's events, each with an inclusion proof against
  the latest head (checked offline by ``socialcredit audit verify-proof``);
* ``GET /v1/audit/replay`` (operator): ``audit replay`` on the running registry; a tampered
  projection is a 200 with ``ok`` false and ``first_difference`` naming the row, not an error.

Bad input (a ``seq`` past the tree, a size of zero) is a 400 ``invalid_input``; no head yet is
a 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from socialcredit.api.deps import OperatorDep, RegistryDep
from socialcredit.api.due_process.session import SubjectDep
from socialcredit.api.schemas import error_responses

__all__ = ["audit_replay_router", "me_receipts_router", "transparency_router"]

transparency_router = APIRouter(prefix="/v1/transparency", tags=["transparency"],
                                responses=error_responses(400, 404, 422, 503))
me_receipts_router = APIRouter(prefix="/v1/me", tags=["subject"],
                               responses=error_responses(401, 404, 503))

#: a count of events or a seq (0 reaches the handler, which names the problem)
audit_replay_router = APIRouter(prefix="/v1/audit", tags=["operator"],
                                responses=error_responses(401, 403, 503))

Count = Annotated[int, Query(ge=0, le=2**62)]


@transparency_router.get("/key")
def registry_key(registry: RegistryDep) -> dict[str, Any]:
    """The public key that signs tree heads and receipts: ``{"key_id", "public_key_pem"}``."""
    from socialcredit.errors import NotFound
    from socialcredit.gate.offline import public_key_path
    from socialcredit.store.tree_head import key_id, load_public_key

    path = public_key_path(registry.settings.keys_dir)
    try:  # never made here: the key is made by the first signature (a clock tick)
        pem = path.read_text(encoding="ascii")
    except OSError as e:
        raise NotFound("the registry has no signing key yet: it is made by the first clock "
                       "tick (`socialcredit clocks run`)") from e
    return {"key_id": key_id(load_public_key(pem.encode("ascii"))), "public_key_pem": pem}


@transparency_router.get("/heads/latest")
def latest(registry: RegistryDep, response: Response) -> dict[str, Any]:
    """The newest signed tree head: ``{"tree_size", "root_hash", "timestamp", "key_id",
    "signature"}`` (see :mod:`socialcredit.store.tree_head`)."""
    from socialcredit.store.tree_head import latest_head

    response.headers["Cache-Control"] = "no-cache"
    with registry.store.read() as conn:
        head = latest_head(conn)
    assert head is not None
    return head


@transparency_router.get("/proofs/inclusion")
def inclusion_route(registry: RegistryDep, seq: Count, size: Count,
                    ) -> dict[str, Any]:
    """``{"seq", "size", "leaf_index", "event_hash", "inclusion_path": [hex], "head"}``."""
    from socialcredit.store.tree_head import inclusion

    with registry.store.read() as conn:
        return inclusion(conn, seq, size)


@transparency_router.get("/proofs/consistency")
def consistency_route(registry: RegistryDep, first: Count, second: Count,
                      ) -> dict[str, Any]:
    """``{"first", "second", "first_root", "second_root", "proof": [hex], "head"}``."""
    from socialcredit.store.tree_head import consistency

    with registry.store.read() as conn:
        return consistency(conn, first, second)


@me_receipts_router.get("/receipts")
def my_receipts(registry: RegistryDep, who: SubjectDep, response: Response) -> dict[str, Any]:
    """The signed-in person's events (newest 500), each a receipt with an inclusion proof
    against the latest signed head: ``{"head", "receipts": [...], "pending"}``."""
    from socialcredit.store.tree_head import subject_receipts

    assert who.principal_id is not None
    response.headers["Cache-Control"] = "no-store"
    with registry.store.read() as conn:
        return subject_receipts(conn, who.principal_id)


@audit_replay_router.get("/replay")
def audit_replay(registry: RegistryDep, who: OperatorDep) -> dict[str, Any]:
    """Rebuild the projections from the ledger into a scratch database and compare them with
    the live tables (:func:`socialcredit.store.replay.replay`): ``{"ok", "events",
    "first_difference": {table, key, what, column, live, replayed, message} | null, "tables",
    "not_projections", "not_yet_replayed", ...}``."""
    from socialcredit.store.replay import replay

    public = {name: spec.public for name, spec in registry.policy.lists.items()}
    return replay(registry.store, list_public=public,
                  adverse_kinds=registry.policy.adverse_kinds()).to_dict()
