"""The master key that wraps every key in the key store: where it comes from.

``GDPRCHAT_MASTER_KEY`` is either a url-safe base64 text of 32 bytes, or ``None``:
then a key is generated once and kept in the instance folder, in a file only its
owner may read (mode 0600), like the generated secret key. Only a short key id
(a hash) is ever stored or shown, never the key.
"""
from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from flask import Flask

from flask_gdprchat.core.config import ConfigError
from flask_gdprchat.core.crypto import KEY_BYTES, new_key

log = logging.getLogger("flask_gdprchat")

#: The file in the instance folder that keeps a generated master key.
KEY_FILE = "gdprchat-master.key"
#: Beside it, the next key while a rotation is under way (see :func:`stage_key_file`).
NEXT_SUFFIX = ".next"
CONFIG_KEY = "GDPRCHAT_MASTER_KEY"


@dataclass(frozen=True)
class MasterKey:
    """The master key in force, and where it is kept (``path`` None = the config)."""

    key: bytes
    path: Path | None = None

    @property
    def key_id(self) -> str:
        """A short hash naming this key, stored beside each key it wraps."""
        return key_id(self.key)

    def __repr__(self) -> str:  # never show the key itself
        return f"MasterKey(id={self.key_id}, path={self.path})"


def parse_key(text: str) -> bytes:
    """The 32 bytes of a url-safe base64 key; ``ValueError`` (without the value) if not."""
    try:
        raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != KEY_BYTES:
        raise ValueError(f"a master key is the url-safe base64 text of {KEY_BYTES} random bytes")
    return raw


def encode_key(key: bytes) -> str:
    """The url-safe base64 text of a key, as ``GDPRCHAT_MASTER_KEY`` takes it."""
    return base64.urlsafe_b64encode(key).decode("ascii")


def key_id(key: bytes) -> str:
    """16 hex digits of a SHA-256 over the key, for telling keys apart (not secret)."""
    digest = hashes.Hash(hashes.SHA256())
    digest.update(b"gdprchat master key id\x00" + key)
    return digest.finalize().hex()[:16]


def generate_key() -> str:
    """A new random master key, as text."""
    return encode_key(new_key())


def master_key_for_app(app: Flask) -> MasterKey:
    """The configured master key, or the one kept in the instance folder (made once).

    Raises :class:`ConfigError` naming ``GDPRCHAT_MASTER_KEY`` when the configured
    value or the kept file is not a key.
    """
    configured = app.config.get(CONFIG_KEY)
    if configured is not None:
        try:
            return MasterKey(parse_key(configured))
        except (ValueError, AttributeError):
            raise ConfigError(
                f"{CONFIG_KEY} must be None or the url-safe base64 text of {KEY_BYTES} bytes "
                "(the value is not shown)"
            ) from None
    path = Path(app.instance_path) / KEY_FILE
    if not path.exists():
        _write_new_file(path, generate_key())
        log.info("%s is not set; a master key was generated and kept in %s", CONFIG_KEY, path)
    return MasterKey(read_key_file(path), path)


def read_key_file(path: Path) -> bytes:
    """The key kept in ``path``; :class:`ConfigError` if it is not one."""
    try:
        return parse_key(path.read_text())
    except ValueError:
        raise ConfigError(
            f"{path} does not hold a master key ({CONFIG_KEY} is None, so the key is read "
            "from there); restore it from where you keep it"
        ) from None


def stage_key_file(path: Path, text: str) -> Path:
    """Write the next key beside ``path`` before the key store is re-wrapped under it.

    If the process stops after the key store committed, the new key is still on
    disk. A staged key left by an unfinished rotation is refused, never overwritten:
    it may be the only copy of the key now in force.
    """
    staged = path.with_name(path.name + NEXT_SUFFIX)
    if not _write_new_file(staged, text):
        raise ValueError(
            f"{staged} holds the key of an unfinished rotation: if the key store is already "
            f"under it, move it over {path.name}; else remove it, then rotate again"
        )
    return staged


def commit_key_file(staged: Path, path: Path) -> None:
    """Put the staged key in place of the old one (an atomic rename)."""
    os.replace(staged, path)


def discard_staged(staged: Path) -> None:
    """Remove a staged key that never came into force."""
    with contextlib.suppress(FileNotFoundError):
        staged.unlink()


def _write_new_file(path: Path, text: str) -> bool:
    """Write ``text`` to a new file of mode 0600, appearing whole or not at all.

    Several workers may start together: each writes a file of its own and links it
    into place; the first link wins (True) and the others read the winner's key.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        return True
    finally:
        temporary.unlink()
