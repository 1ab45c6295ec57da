"""Authenticated encryption of stored values: AES-256-GCM from ``cryptography``.

A sealed value is ``version (1 byte) | nonce (12 bytes) | ciphertext and tag``.
The nonce is random for every value. The caller's ``aad`` names where the value
belongs (its table, column and row, see :func:`row_aad`), and the version byte is
authenticated with it, so a ciphertext copied onto another row, another column,
or altered in any byte does not decrypt: :class:`DecryptionError` is raised, never
a wrong value.
"""
from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

#: The format of a sealed value; a future format gets a new number.
VERSION = 1
#: Bytes of key (AES-256) and of nonce (GCM's standard 96 bits).
KEY_BYTES = 32
NONCE_BYTES = 12
#: Bytes a sealed value adds to its plaintext: version, nonce and the 16-byte tag.
OVERHEAD = 1 + NONCE_BYTES + 16


class DecryptionError(Exception):
    """A sealed value does not open: wrong key, a value moved from another row, or altered."""


def new_key() -> bytes:
    """A fresh 256-bit key from the operating system's random source."""
    return os.urandom(KEY_BYTES)


def row_aad(table: str, column: str, row_id: int | str) -> bytes:
    """The associated data naming one stored value, e.g. ``b"gdprchat_contacts.email:42"``."""
    if not table or not column or row_id == "":
        raise ValueError("row_aad needs a table, a column and a row id")
    return f"{table}.{column}:{row_id}".encode()


def encrypt_bytes(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Seal ``plaintext`` under ``key`` for the place named by ``aad``."""
    _check_key(key)
    nonce = os.urandom(NONCE_BYTES)
    header = bytes([VERSION])
    return header + nonce + AESGCM(key).encrypt(nonce, plaintext, header + aad)


def decrypt_bytes(key: bytes, blob: bytes, aad: bytes) -> bytes:
    """Open a value sealed by :func:`encrypt_bytes`; raises :class:`DecryptionError`."""
    _check_key(key)
    if len(blob) < OVERHEAD or blob[0] != VERSION:
        raise DecryptionError("not a sealed value of a known format")
    nonce, sealed = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, sealed, blob[:1] + aad)
    except InvalidTag:
        raise DecryptionError(
            "the value does not open with this key here: wrong key, moved from another "
            "row, or altered"
        ) from None


def encrypt(key: bytes, plaintext: str, aad: bytes) -> bytes:
    """Seal a text (UTF-8) under ``key`` for the place named by ``aad``."""
    return encrypt_bytes(key, plaintext.encode("utf-8"), aad)


def decrypt(key: bytes, blob: bytes, aad: bytes) -> str:
    """Open a text sealed by :func:`encrypt`; raises :class:`DecryptionError`."""
    return decrypt_bytes(key, blob, aad).decode("utf-8")


def _check_key(key: bytes) -> None:
    # AESGCM would accept 16- and 24-byte keys too; every key here is AES-256.
    if not isinstance(key, bytes) or len(key) != KEY_BYTES:
        raise ValueError(f"an encryption key is {KEY_BYTES} bytes")
