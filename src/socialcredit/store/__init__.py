"""Store: SQLAlchemy tables, the hash-chained ledger, write batches and migrations."""

from socialcredit.store.ledger import Batch, VerifyResult, canonical_json
from socialcredit.store.store import Store

__all__ = ["Batch", "Store", "VerifyResult", "canonical_json"]
