"""Optional second factor for operators: a TOTP code (RFC 6238, 30-second steps, 6 digits).

:func:`enrol` gives an operator a new secret (replacing any earlier one) and returns it with
its ``otpauth://`` URI for an authenticator app; from then on the console's sign-in asks for a
code besides the operator key. The secret must stay readable to check codes, so it is kept
in the ``operator_totp`` table (like the API key hashes, never in the ledger); enrolment and
removal are ``access.totp_enrolled`` / ``access.totp_removed`` ledger events (the name
only). :func:`verify` accepts the current step and the one before or after (clock drift).
"""

from __future__ import annotations

import pyotp
from sqlalchemy import delete, select

from socialcredit.errors import AuthError, NotFound
from socialcredit.store import Store
from socialcredit.store.tables import api_keys, operator_totp

__all__ = ["ISSUER", "enrol", "remove", "required", "verify"]

ISSUER = "socialcredit"


def enrol(store: Store, *, name: str) -> tuple[str, str]:
    """A new TOTP secret for operator ``name``: ``(base32 secret, otpauth URI)``.

    Raises:
        NotFound: no operator of that name holds a live key.
    """
    with store.read() as conn:
        if conn.execute(select(api_keys.c.key_id).where(
                api_keys.c.role == "operator", api_keys.c.name == name,
                api_keys.c.revoked_at.is_(None))).first() is None:
            raise NotFound(f"no operator named {name!r} with a live key; see "
                           "`socialcredit operators add`")
    secret = pyotp.random_base32()
    with store.batch() as b:
        b.conn.execute(delete(operator_totp).where(operator_totp.c.name == name))
        b.add(operator_totp, {"name": name, "secret": secret, "created_at": b.at})
        b.emit("access.totp_enrolled", {"role": "operator", "name": name})
    return secret, pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=ISSUER)


def remove(store: Store, *, name: str) -> bool:
    """Stop asking ``name`` for a code; False if none was asked."""
    with store.batch() as b:
        gone = b.conn.execute(delete(operator_totp).where(operator_totp.c.name == name))
        if gone.rowcount:
            b.emit("access.totp_removed", {"role": "operator", "name": name})
    return bool(gone.rowcount)


def required(store: Store, name: str) -> bool:
    """Whether operator ``name`` must give a code."""
    with store.read() as conn:
        return conn.execute(select(operator_totp.c.name).where(
            operator_totp.c.name == name)).first() is not None


def verify(store: Store, *, name: str, code: str) -> None:
    """Check ``code`` for ``name`` (nothing to check if not enrolled).

    Raises:
        AuthError: enrolled and the code is missing or wrong.
    """
    with store.read() as conn:
        secret = conn.execute(select(operator_totp.c.secret).where(
            operator_totp.c.name == name)).scalar()
    if secret is None:
        return
    digits = "".join(code.split())
    if not (digits.isdigit() and pyotp.TOTP(secret).verify(digits, valid_window=1)):
        raise AuthError("the authenticator code is missing or wrong")
