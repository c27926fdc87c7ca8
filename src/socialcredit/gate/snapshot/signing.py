"""The registry's Ed25519 signing key (RFC 8032): made, saved, loaded, its public half."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from socialcredit.gate.snapshot.format import SnapshotError

__all__ = ["load_signing_key", "new_signing_key", "public_key_pem", "save_signing_key"]


def new_signing_key() -> Ed25519PrivateKey:
    """A fresh Ed25519 (RFC 8032) private key for signing snapshots."""
    return Ed25519PrivateKey.generate()


def save_signing_key(key: Ed25519PrivateKey, path: Path, *, overwrite: bool = False) -> None:
    """Write ``key`` to ``path`` as unencrypted PEM PKCS #8 (RFC 5208/5958), file mode 0600.

    :raises SnapshotError: ``path`` exists (unless ``overwrite``) or cannot be written.
    """
    if not isinstance(key, Ed25519PrivateKey):
        raise SnapshotError(f"expected an Ed25519 private key, got {type(key).__name__}")
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise SnapshotError(f"signing key file {path} already exists; not overwriting") from None
    except OSError as e:
        raise SnapshotError(f"cannot write signing key file {path}: {e.strerror}") from e
    try:
        os.fchmod(fd, 0o600)  # O_TRUNC keeps an existing file's mode
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise SnapshotError(f"cannot write signing key file {path}: {e.strerror}") from e


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """Read an unencrypted PEM PKCS #8 Ed25519 private key written by :func:`save_signing_key`.

    :raises SnapshotError: missing or unreadable file, not PEM, encrypted, or not Ed25519.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise SnapshotError(f"cannot read signing key file {path}: {e.strerror}") from e
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise SnapshotError(
            f"{path} is not an unencrypted PEM PKCS #8 private key: {e}") from e
    if not isinstance(key, Ed25519PrivateKey):
        raise SnapshotError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
    return key


def public_key_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The public half of ``key`` as PEM SubjectPublicKeyInfo (RFC 8410), for readers."""
    if isinstance(key, Ed25519PrivateKey):
        key = key.public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise SnapshotError(f"expected an Ed25519 key, got {type(key).__name__}")
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def _public_key(key: Ed25519PublicKey | bytes) -> Ed25519PublicKey:
    if isinstance(key, Ed25519PublicKey):
        return key
    if isinstance(key, bytes | bytearray | memoryview):
        try:
            loaded = serialization.load_pem_public_key(bytes(key))
        except (ValueError, UnsupportedAlgorithm) as e:
            raise SnapshotError(f"public key is not a PEM SubjectPublicKeyInfo: {e}") from e
        if isinstance(loaded, Ed25519PublicKey):
            return loaded
        raise SnapshotError(f"public key is a {type(loaded).__name__}, not Ed25519")
    raise SnapshotError(
        f"public key must be an Ed25519PublicKey or PEM bytes, got {type(key).__name__}")
