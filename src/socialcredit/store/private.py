"""Files only the registry's account may read (mode 0600), and the secret key kept in one.

The SQLite database, its backups and the key that seals one-time codes and CSRF tokens are
created owner-only: a copy of the database must not be enough to recover a live sign-in code
(issue #20, finding 3). SQLite gives its ``-wal`` and ``-shm`` files the database file's mode.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from socialcredit.errors import ConfigError

__all__ = ["KEY_BYTES", "keyed_digest", "load_or_create_key", "private_dir", "private_file"]

KEY_BYTES = 32


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if missing; a folder this creates is 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 if it does not exist (an existing file keeps its
    mode: an operator may have chosen it)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path
    os.close(fd)
    return path


def load_or_create_key(path: Path) -> bytes:
    """The key in ``path`` (32 random bytes, hex), created 0600 on first use.

    Raises:
        ConfigError: the file cannot be created or read, or holds no 32-byte hex key.
    """
    try:
        if not path.exists():
            private_dir(path.parent)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process made it first
            else:
                with os.fdopen(fd, "w") as fh:
                    fh.write(secrets.token_hex(KEY_BYTES) + "\n")
        text = path.read_text(encoding="ascii").strip()
    except OSError as e:
        raise ConfigError(f"cannot read or create the key file {path}: {e.strerror}") from e
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < KEY_BYTES:
        raise ConfigError(f"{path} must hold a {KEY_BYTES}-byte key in hex")
    return key


def keyed_digest(key: bytes, value: str) -> str:
    """Hex HMAC-SHA-256 of ``value`` under ``key``."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()
