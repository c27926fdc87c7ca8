"""A monitor of a registry's signed tree heads (issue #15): fetch the latest head over HTTP,
check its signature with the registry's key, and check that it extends the last head seen
(RFC 9162 consistency proof). A ledger that went back, or two heads that cannot both be true,
is reported with both heads as evidence (:class:`LedgerForked`).

The state (the key pinned on first contact and the last verified head) is a small JSON file,
so a monitor run from cron remembers what it saw. Only the standard library's HTTP client is
used: a monitor needs nothing but this package and the registry's URL.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from socialcredit.errors import SocialCreditError, StoreUnavailable
from socialcredit.store.merkle import ProofInvalid
from socialcredit.store.tree_head import check_consistency, load_public_key, verify_head

__all__ = ["LedgerForked", "MonitorStep", "check_once", "fetch_json"]


class LedgerForked(SocialCreditError):
    """Two signed heads of one registry that cannot both be true: the ledger was rewritten,
    forked or rolled back. ``details``: ``{"older": head, "newer": head, "reason"}``."""

    code = "ledger_forked"


@dataclass(frozen=True)
class MonitorStep:
    """One check: the ``head`` now, the ``previous`` one (None on first contact)."""

    head: dict[str, Any]
    previous: dict[str, Any] | None


def fetch_json(url: str, timeout_s: float = 10.0) -> Any:
    """GET ``url`` and decode its JSON body.

    Raises:
        StoreUnavailable: the registry cannot be reached or answers with an error.
    """
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 (http/https)
            return json.loads(resp.read().decode("utf-8"))
    except urllib.error.HTTPError as e:
        body = e.read().decode("utf-8", "replace")[:300]
        raise StoreUnavailable(f"{url} answered {e.code}: {body}") from e
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise StoreUnavailable(f"cannot fetch {url}: {e}") from e


def _load_state(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise SocialCreditError(f"the monitor state {path} is unreadable: {e}") from e
    return data if isinstance(data, dict) else {}


def check_once(base_url: str, state_path: Path, *, public_key_pem: bytes | None = None,
               ) -> MonitorStep:
    """Fetch and check the latest head of the registry at ``base_url``; remember it in
    ``state_path`` when it verifies.

    Raises:
        ProofInvalid: the head's signature does not verify, or it names another key.
        LedgerForked: the head does not extend the last one seen (both heads in details).
        StoreUnavailable: the registry cannot be reached.
    """
    base = base_url.rstrip("/")
    state = _load_state(state_path)
    pem = public_key_pem or (state.get("public_key_pem") or "").encode("ascii") or None
    if pem is None:  # first contact: pin the key the registry publishes
        pem = str(fetch_json(f"{base}/v1/transparency/key")["public_key_pem"]).encode("ascii")
    key = load_public_key(pem)
    head = fetch_json(f"{base}/v1/transparency/heads/latest")
    verify_head(head, key)
    older = state.get("head")
    if older is not None:
        verify_head(older, key)
        if head["tree_size"] < older["tree_size"]:
            raise LedgerForked(
                f"the ledger went back: head of {head['tree_size']} events after one of "
                f"{older['tree_size']}", details={"older": older, "newer": head,
                                                  "reason": "went back"})
        query = urllib.parse.urlencode({"first": older["tree_size"],
                                        "second": head["tree_size"]})
        proof = fetch_json(f"{base}/v1/transparency/proofs/consistency?{query}")
        try:
            check_consistency(older, head, list(proof["proof"]))
        except (ProofInvalid, KeyError, TypeError, ValueError) as e:
            raise LedgerForked(
                f"head of {head['tree_size']} events does not extend the head of "
                f"{older['tree_size']} seen before: {e}",
                details={"older": older, "newer": head, "reason": str(e)}) from e
    state.update(public_key_pem=pem.decode("ascii"), head=head)
    state_path.parent.mkdir(parents=True, exist_ok=True)
    state_path.write_text(json.dumps(state, indent=2), encoding="utf-8")
    return MonitorStep(head, older)
