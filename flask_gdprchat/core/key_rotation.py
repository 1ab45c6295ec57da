"""Rotating the master key: re-wrap every key, then keep the new master key.

Only the wrapping changes: data keys, and so the data sealed under them, stay as
they are. A generated master key (kept in the instance folder) is replaced in its
file; the new key is written beside it before the key store commits, so no crash
can leave the store under a key that exists nowhere. A configured master key
cannot be rewritten from here: the caller shows the new one, once, and the
operator puts it in the configuration of every process.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flask_gdprchat.core.keystore import keystore
from flask_gdprchat.core.master_key import (
    commit_key_file,
    discard_staged,
    key_id,
    parse_key,
    stage_key_file,
)


@dataclass(frozen=True)
class Rotation:
    """What a rotation did."""

    #: Keys re-wrapped (subject keys and site keys such as the blind-index key).
    rewrapped: int
    old_key_id: str
    new_key_id: str
    #: The file that now keeps the new key; None when the key is the config's to hold.
    kept_in: Path | None


def rotate_master_key(
    new_key_text: str, *, before_commit: Callable[[], None] | None = None
) -> Rotation:
    """Re-wrap the current app's key store under ``new_key_text`` and keep that key.

    ``before_commit`` runs once the new key is safe on disk (or, for a configured
    key, before the key store changes): the place to show a configured key, so that
    it is never lost after the key store is under it. Raises ``ValueError`` for a
    key that is not one, or the key in use; the key store is then unchanged.
    """
    new_key = parse_key(new_key_text)
    store = keystore()
    old_id = store.master_key_id
    if key_id(new_key) == old_id:
        raise ValueError("the new master key is the one in use")
    path = store.master_key_path
    staged = stage_key_file(path, new_key_text) if path is not None else None
    try:
        if before_commit is not None:
            before_commit()
        count = store.rewrap_all(new_key)
    except BaseException:
        if staged is not None and path is not None:
            _settle(staged, path, key_id(new_key))
        raise
    if staged is not None and path is not None:
        commit_key_file(staged, path)
    return Rotation(count, old_id, key_id(new_key), path)


def _settle(staged: Path, path: Path, new_id: str) -> None:
    """After a failed rotation: keep the staged key if the store went under it after all."""
    try:
        under = keystore().stored_master_key_id()
    except Exception:  # the store cannot say: the staged key stays, for the operator
        return
    if under == new_id:
        commit_key_file(staged, path)
    else:
        discard_staged(staged)
