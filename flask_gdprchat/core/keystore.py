"""The key store: one data key per subject, kept apart from the data it opens.

Erasure that survives backups (crypto-shredding) rests here. Each contact and each
agent gets a random 256-bit data key; the key store keeps it wrapped (sealed with
AES-256-GCM under the master key, bound to its subject) in a database of its own,
``GDPRCHAT_KEYSTORE_URI`` (default: ``gdprchat-keys.sqlite3`` in the instance
folder), never in the chat's database. Destroying a subject's key leaves a
tombstone (kind, id, time: no personal data); whatever copy of the data was made
before then holds nothing that key store can open again.

The schema is tiny, made on first use with a version row, and unknown to any
Alembic environment, the host's or ours.

Unwrapped keys are cached per process in a bounded LRU, so a message costs no
key-store read at all. Every destroy raises a generation number in the key store,
in the same transaction. The destroying process drops the keys from its own cache
at once; every other process re-reads the generation before it trusts its cache
when ``recheck_seconds`` (one second) have passed since its last look, and clears
the cache when the number moved. So a destroyed key leaves every process's memory
within that second, at the cost of one one-row read per process per second, never
one per message or per request. What a process could still open in that second is
what the erasure is deleting from the chat's database in the same moment, and what
it seals under the old key then is sealed under a key kept nowhere else: as
unreadable as the rest once the second is over.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from cryptography.hazmat.primitives import hashes, hmac
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError

from flask_gdprchat.core.clock import utcnow
from flask_gdprchat.core.config import ConfigError
from flask_gdprchat.core.crypto import (
    DecryptionError,
    decrypt_bytes,
    encrypt_bytes,
    new_key,
    row_aad,
)
from flask_gdprchat.core.keystore_db import (
    SCHEMA_LOCK,
    SCHEMA_VERSION,
    all_subject_keys,
    default_keystore_uri,
    make_engine,
    metadata,
    same_database,
    site_keys,
    state_table,
    subject_keys,
    tombstones,
)
from flask_gdprchat.core.master_key import MasterKey, key_id, master_key_for_app
from flask_gdprchat.core.state import state
from flask_gdprchat.core.text import normalise_email

log = logging.getLogger("flask_gdprchat")
T = TypeVar("T")

#: Whose keys the store keeps.
SUBJECT_KINDS = ("contact", "agent")
#: What a blind index is taken of.
BLIND_INDEX_PURPOSES = ("email", "external_id", "agent_email")
#: Purposes whose values are e-mail addresses, normalised before hashing.
_EMAIL_PURPOSES = ("email", "agent_email")
#: Unwrapped data keys one process keeps at most.
CACHE_SIZE = 1024
#: Seconds a process trusts its last look at the destroy generation.
RECHECK_SECONDS = 1.0


class KeyStoreError(RuntimeError):
    """The key store cannot do what was asked; the message says why."""


class WrongMasterKeyError(KeyStoreError):
    """The master key in force is not the one the key store's keys are wrapped under."""


class KeyDestroyedError(KeyStoreError, LookupError):
    """The subject's key was destroyed (erased): it is never made again."""


class KeyStore:
    """Data keys per subject and the blind-index key, in a database apart from the data."""

    def __init__(
        self, uri: str, master: MasterKey, *, cache_size: int = CACHE_SIZE,
        recheck_seconds: float = RECHECK_SECONDS,
    ) -> None:
        self.engine: Engine = make_engine(uri)
        self._master = master
        self._cache_size = cache_size
        self._recheck_seconds = recheck_seconds
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._generation: int | None = None
        self._checked_at: float | None = None  # monotonic time of the last look
        self._schema_ready = False
        self._master_checked = False
        self._blind_key: bytes | None = None

    def __repr__(self) -> str:
        url = self.engine.url.render_as_string(hide_password=True)
        return f"KeyStore({url}, master key {self._master.key_id})"

    @property
    def master_key_id(self) -> str:
        """The id of the master key this process wraps and unwraps with."""
        return self._master.key_id

    @property
    def master_key_path(self) -> Path | None:
        """The file that keeps the master key, or None when it comes from the config."""
        return self._master.path

    # -- subject keys ---------------------------------------------------------------

    def existing_key(self, kind: str, subject_id: int) -> bytes | None:
        """The subject's data key, or None if it has none (never made, or destroyed)."""
        ident = _ident(kind, subject_id)
        self._check_master()
        cached = self._from_cache(ident)
        if cached is not None:
            return cached
        with self.engine.connect() as conn:
            generation = self._read_generation(conn)
            row = conn.execute(
                select(subject_keys.c.wrapped_key, subject_keys.c.master_key_id)
                .where(subject_keys.c.subject_kind == kind,
                       subject_keys.c.subject_id == subject_id)
            ).first()
        if row is None:
            return None
        key = self._unwrap(self._master, row.wrapped_key, row.master_key_id, _subject_aad(ident))
        self._remember(ident, key, generation)
        return key

    def data_key(self, kind: str, subject_id: int, *, born_at: dt.datetime | None = None) -> bytes:
        """The subject's data key, made on first use; :class:`KeyDestroyedError` once erased.

        ``born_at`` is given for a subject just made: when its id is one whose key
        was destroyed before that moment (a database restored from a backup counts
        ids again from where the backup stood), it is another subject with a reused
        id and gets a fresh key; the tombstone stays, still naming the older rows.
        """
        found = self.existing_key(kind, subject_id)
        if found is not None:
            return found
        ident = _ident(kind, subject_id)
        key, generation = _once_more_on_conflict(lambda: self._make_subject_key(ident, born_at))
        self._remember(ident, key, generation)
        return key

    def _make_subject_key(
        self, ident: tuple[str, int], born_at: dt.datetime | None
    ) -> tuple[bytes, int]:
        kind, subject_id = ident
        with self._write() as conn:
            # FOR SHARE (PostgreSQL): a destroy or a rotation waits for this
            # transaction and this one for them; making keys does not block itself.
            state = conn.execute(
                select(state_table).where(state_table.c.id == 1).with_for_update(read=True)
            ).one()
            self._require_master(state.master_key_id)
            destroyed_at = conn.scalar(select(tombstones.c.destroyed_at).where(
                tombstones.c.subject_kind == kind, tombstones.c.subject_id == subject_id))
            if destroyed_at is not None and (born_at is None or born_at <= destroyed_at):
                raise KeyDestroyedError(f"the key of {kind} {subject_id} was destroyed (erased)")
            row = conn.execute(select(subject_keys.c.wrapped_key, subject_keys.c.master_key_id)
                               .where(subject_keys.c.subject_kind == kind,
                                      subject_keys.c.subject_id == subject_id)).first()
            if row is not None:  # another process made it a moment ago
                return self._unwrap(self._master, row.wrapped_key, row.master_key_id,
                                    _subject_aad(ident)), state.destroy_generation
            key = new_key()
            conn.execute(subject_keys.insert().values(
                subject_kind=kind, subject_id=subject_id,
                wrapped_key=encrypt_bytes(self._master.key, key, _subject_aad(ident)),
                master_key_id=self._master.key_id, created_at=utcnow(),
            ))
        return key, state.destroy_generation

    def destroy_key(self, kind: str, subject_id: int) -> None:
        """Destroy the subject's key for good and leave a tombstone; safe to repeat.

        Needs no master key: an erasure works even while the master key is wrong.
        """
        self.destroy_keys(kind, [subject_id])

    def destroy_keys(self, kind: str, subject_ids: list[int]) -> None:
        """Destroy the keys of these subjects in one transaction, each leaving a tombstone."""
        idents = [_ident(kind, subject_id) for subject_id in subject_ids]
        if not idents:
            return
        ids = [subject_id for _kind, subject_id in idents]
        now = utcnow()
        with self._write() as conn:
            # Raising the generation first takes the state row's lock: destroys,
            # key making and rotation happen one after the other.
            conn.execute(update(state_table).where(state_table.c.id == 1)
                         .values(destroy_generation=state_table.c.destroy_generation + 1))
            generation = self._read_generation(conn)
            for chunk in _chunks(ids):
                known = set(conn.scalars(select(tombstones.c.subject_id).where(
                    tombstones.c.subject_kind == kind, tombstones.c.subject_id.in_(chunk))))
                if known:
                    # The latest destruction is the one older rows are judged by.
                    conn.execute(update(tombstones).where(
                        tombstones.c.subject_kind == kind,
                        tombstones.c.subject_id.in_(known)).values(destroyed_at=now))
                fresh = [i for i in dict.fromkeys(chunk) if i not in known]
                if fresh:
                    conn.execute(tombstones.insert(), [
                        {"subject_kind": kind, "subject_id": i, "destroyed_at": now}
                        for i in fresh])
                conn.execute(subject_keys.delete().where(
                    subject_keys.c.subject_kind == kind, subject_keys.c.subject_id.in_(chunk)))
        with self._lock:
            for ident in idents:
                self._cache.pop(ident, None)
            if self._generation != generation - 1:
                # Someone else destroyed keys since this process last looked.
                self._cache.clear()
            self._generation = generation
        self.scrub_free_space()

    def destroyed_at(self, kind: str, subject_ids: list[int]) -> dict[int, dt.datetime]:
        """When each of these subjects' key was last destroyed (those with a tombstone)."""
        _ident(kind, 1)
        self._ensure_schema()
        found: dict[int, dt.datetime] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(subject_ids):
                for subject_id, destroyed_at in conn.execute(
                        select(tombstones.c.subject_id, tombstones.c.destroyed_at)
                        .where(tombstones.c.subject_kind == kind,
                               tombstones.c.subject_id.in_(chunk))):
                    found[subject_id] = destroyed_at
        return found

    def is_empty(self) -> bool:
        """Whether the store holds no subject key and no tombstone (a new, or wrong, store)."""
        self._ensure_schema()
        with self.engine.connect() as conn:
            return (conn.scalar(select(subject_keys.c.subject_id).limit(1)) is None
                    and conn.scalar(select(tombstones.c.subject_id).limit(1)) is None)

    def is_destroyed(self, kind: str, subject_id: int) -> bool:
        """Whether the subject's key was destroyed (there is a tombstone)."""
        _ident(kind, subject_id)
        self._ensure_schema()
        with self.engine.connect() as conn:
            return conn.execute(select(tombstones.c.subject_id).where(
                tombstones.c.subject_kind == kind,
                tombstones.c.subject_id == subject_id)).first() is not None

    def known_subjects(self, kind: str) -> set[int]:
        """Ids of the subjects of ``kind`` that hold a live key (for the purge sweep)."""
        _ident(kind, 1)
        self._ensure_schema()
        with self.engine.connect() as conn:
            return set(conn.scalars(select(subject_keys.c.subject_id)
                                    .where(subject_keys.c.subject_kind == kind)))

    # -- the blind index --------------------------------------------------------------

    def blind_index(self, value: str, purpose: str = "email") -> str:
        """HMAC-SHA-256 (hex) of the normalised value under this site's blind-index key.

        An e-mail address is normalised as addresses are compared (trimmed, lower
        case), so every spelling of one address finds the same rows; an external id
        is taken as it is. The purpose is part of what is hashed, so an address and
        an id with the same letters get different digests, and an agent's sign-in
        address does not match the same address of a visitor; another site, with
        another key, gets other digests for the same address.
        """
        if purpose not in BLIND_INDEX_PURPOSES:
            raise ValueError(f"a blind index is of {' or '.join(BLIND_INDEX_PURPOSES)}")
        text = normalise_email(value) if purpose in _EMAIL_PURPOSES else value
        mac = hmac.HMAC(self._blind_index_key(), hashes.SHA256())
        if purpose != "email":  # e-mail digests stay what they were
            mac.update(f"{purpose}\x00".encode())
        mac.update(text.encode("utf-8"))
        return mac.finalize().hex()

    def _blind_index_key(self) -> bytes:
        if self._blind_key is not None:
            return self._blind_key
        self._check_master()
        self._blind_key = _once_more_on_conflict(lambda: self._make_site_key("blind_index"))
        return self._blind_key

    def _make_site_key(self, name: str) -> bytes:
        aad = _site_aad(name)
        with self._write() as conn:
            state = conn.execute(
                select(state_table).where(state_table.c.id == 1).with_for_update(read=True)
            ).one()
            self._require_master(state.master_key_id)
            row = conn.execute(select(site_keys.c.wrapped_key, site_keys.c.master_key_id)
                               .where(site_keys.c.name == name)).first()
            if row is not None:
                return self._unwrap(self._master, row.wrapped_key, row.master_key_id, aad)
            key = new_key()
            conn.execute(site_keys.insert().values(
                name=name, wrapped_key=encrypt_bytes(self._master.key, key, aad),
                master_key_id=self._master.key_id, created_at=utcnow()))
        return key

    # -- rotation ---------------------------------------------------------------------

    def rewrap_all(self, new_master_key: bytes) -> int:
        """Re-wrap every key under ``new_master_key`` in one transaction; the data is untouched.

        Returns how many keys were re-wrapped. Keys already under the new master key
        are left as they are, so an interrupted rotation can be run again with the
        same new key. From the commit on, this store wraps and unwraps with the new key.
        """
        new = MasterKey(new_master_key, self._master.path)
        old = self._master
        if new.key_id == old.key_id:
            raise ValueError("the new master key is the one in use")
        self._ensure_schema()
        count = 0
        with self._write() as conn:
            state = conn.execute(
                select(state_table).where(state_table.c.id == 1).with_for_update()
            ).one()
            if state.master_key_id not in (old.key_id, new.key_id):
                self._require_master(state.master_key_id)
            conn.execute(update(state_table).where(state_table.c.id == 1)
                         .values(master_key_id=new.key_id))
            for kind, subject_id, wrapped, wrapped_under in all_subject_keys(conn):
                if wrapped_under == new.key_id:
                    continue
                aad = _subject_aad((kind, subject_id))
                key = self._unwrap(old, wrapped, wrapped_under, aad)
                conn.execute(update(subject_keys).where(
                    subject_keys.c.subject_kind == kind, subject_keys.c.subject_id == subject_id
                ).values(wrapped_key=encrypt_bytes(new.key, key, aad), master_key_id=new.key_id))
                count += 1
            for name, wrapped, wrapped_under in conn.execute(select(
                    site_keys.c.name, site_keys.c.wrapped_key, site_keys.c.master_key_id)).all():
                if wrapped_under == new.key_id:
                    continue
                aad = _site_aad(name)
                key = self._unwrap(old, wrapped, wrapped_under, aad)
                conn.execute(update(site_keys).where(site_keys.c.name == name).values(
                    wrapped_key=encrypt_bytes(new.key, key, aad), master_key_id=new.key_id))
                count += 1
        self._master = new
        self._master_checked = True
        self.scrub_free_space()
        return count

    def stored_master_key_id(self) -> str | None:
        """The id of the master key the key store says its keys are wrapped under."""
        self._ensure_schema()
        with self.engine.connect() as conn:
            value = conn.scalar(select(state_table.c.master_key_id))
        return None if value is None else str(value)

    # -- upkeep -----------------------------------------------------------------------

    def scrub_free_space(self) -> None:
        """On SQLite, fold the WAL into the file (zeroed by secure_delete) and truncate it.

        Best effort, after a commit that must stand: a reader holding an old snapshot
        keeps the pages until the next call, and a failure here is logged, not raised.
        """
        if self.engine.dialect.name != "sqlite":
            return
        try:
            with self.engine.connect() as conn:
                # Outside a transaction: an open one would hold the checkpoint back.
                conn.execution_options(gdprchat_no_begin=True)
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        except SQLAlchemyError as exc:
            log.warning("could not checkpoint the key store's WAL (%s); the next "
                        "destroy or rotation tries again", type(exc).__name__)

    def files(self) -> list[str]:
        """The SQLite files that hold the keys (main, WAL); empty on other databases."""
        database = self.engine.url.database
        if self.engine.dialect.name != "sqlite" or not database or database == ":memory:":
            return []
        return [p for p in (database, database + "-wal", database + "-journal")
                if os.path.exists(p)]

    def dispose(self) -> None:
        """Close the key store's connections (the cache is kept)."""
        self.engine.dispose()

    # -- inside -----------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        self._ensure_schema()
        with self.engine.connect() as conn:
            conn.execution_options(gdprchat_write=True)
            with conn.begin():
                yield conn

    def _ensure_schema(self) -> None:
        if self._schema_ready:
            return
        with self.engine.connect() as conn:
            conn.execution_options(gdprchat_write=True)
            with conn.begin():
                if self.engine.dialect.name == "postgresql":
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")
                metadata.create_all(conn, checkfirst=True)
                state = conn.execute(select(state_table).where(state_table.c.id == 1)).first()
                if state is None:
                    conn.execute(state_table.insert().values(
                        id=1, schema_version=SCHEMA_VERSION,
                        master_key_id=self._master.key_id, destroy_generation=0))
                elif state.schema_version > SCHEMA_VERSION:
                    raise KeyStoreError(
                        f"the key store's schema is version {state.schema_version}, newer than "
                        f"this release knows ({SCHEMA_VERSION}): upgrade flask-gdprchat"
                    )
        self._schema_ready = True

    def _check_master(self) -> None:
        if self._master_checked:
            return
        self._ensure_schema()
        with self.engine.connect() as conn:
            self._require_master(conn.scalar(select(state_table.c.master_key_id)))
        self._master_checked = True

    def _require_master(self, wrapped_under: str | None) -> None:
        if wrapped_under != self._master.key_id:
            raise WrongMasterKeyError(
                f"GDPRCHAT_MASTER_KEY is not the key store's master key: its keys are wrapped "
                f"under master key {wrapped_under}, this process has {self._master.key_id}"
            )

    def _unwrap(self, master: MasterKey, wrapped: bytes, wrapped_under: str, aad: bytes) -> bytes:
        if wrapped_under != master.key_id:
            raise WrongMasterKeyError(
                f"GDPRCHAT_MASTER_KEY is not the key store's master key: a key is wrapped "
                f"under master key {wrapped_under}, this process has {master.key_id}"
            )
        try:
            return decrypt_bytes(master.key, wrapped, aad)
        except DecryptionError:
            raise KeyStoreError(
                f"a wrapped key ({aad.decode()}) does not open under its master key: "
                "the key store was altered or a key moved to another subject"
            ) from None

    def _read_generation(self, conn: Connection) -> int:
        generation = conn.scalar(select(state_table.c.destroy_generation))
        return int(generation or 0)

    def _from_cache(self, ident: tuple[str, int]) -> bytes | None:
        with self._lock:
            if ident not in self._cache:
                return None
        if not self._checked_recently():
            with self.engine.connect() as conn:
                generation = self._read_generation(conn)
            with self._lock:
                if self._generation is None or generation > self._generation:
                    self._cache.clear()
                    self._generation = generation
            self._note_check()
        with self._lock:
            key = self._cache.get(ident)
            if key is not None:
                self._cache.move_to_end(ident)
            return key

    def _remember(self, ident: tuple[str, int], key: bytes, generation: int) -> None:
        with self._lock:
            if self._generation is None or generation > self._generation:
                self._cache.clear()
                self._generation = generation
            elif generation < self._generation:
                return  # read before a destroy this process already knows of
            self._cache[ident] = key
            self._cache.move_to_end(ident)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        self._note_check()

    def _checked_recently(self) -> bool:
        with self._lock:
            last = self._checked_at
        return last is not None and time.monotonic() - last < self._recheck_seconds

    def _note_check(self) -> None:
        with self._lock:
            self._checked_at = time.monotonic()


# -- construction -----------------------------------------------------------------------


def keystore_for_app(app: Flask, data_url: URL | None = None) -> KeyStore:
    """The key store ``app``'s configuration names, with its master key; connects lazily.

    Raises :class:`ConfigError` naming the key when ``GDPRCHAT_KEYSTORE_URI`` is no
    database URL or names the chat's own database (``data_url``), or when the master
    key is not a key.
    """
    uri = app.config.get("GDPRCHAT_KEYSTORE_URI") or default_keystore_uri(app)
    try:
        url = make_url(uri)
    except ArgumentError:
        raise ConfigError("GDPRCHAT_KEYSTORE_URI is not a database URL") from None
    if data_url is not None and same_database(url, data_url):
        raise ConfigError(
            "GDPRCHAT_KEYSTORE_URI names the chat's own database: the keys must live apart "
            "from the data they open, or erasure does not reach its backups"
        )
    master = master_key_for_app(app)
    try:
        return KeyStore(uri, master)
    except (ArgumentError, ImportError) as exc:
        raise ConfigError(f"GDPRCHAT_KEYSTORE_URI cannot be opened: {exc}") from None


def _once_more_on_conflict(make: Callable[[], T]) -> T:
    """Run ``make`` again if another process inserted the same key first.

    On PostgreSQL two processes may both find no key and both insert one; the
    second insert fails on the primary key, and the second try reads the winner's.
    """
    try:
        return make()
    except IntegrityError:
        return make()


def _chunks(ids: list[int], size: int = 500) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def _ident(kind: str, subject_id: int) -> tuple[str, int]:
    if kind not in SUBJECT_KINDS:
        raise ValueError(f"a key belongs to a subject of kind {' or '.join(SUBJECT_KINDS)}")
    if not isinstance(subject_id, int) or isinstance(subject_id, bool) or subject_id < 1:
        raise ValueError("a subject id is a positive whole number")
    return kind, subject_id


def _subject_aad(ident: tuple[str, int]) -> bytes:
    # A wrapped key opens only as the key of its own subject.
    return row_aad(subject_keys.name, "wrapped_key", f"{ident[0]}/{ident[1]}")


def _site_aad(name: str) -> bytes:
    return row_aad(site_keys.name, "wrapped_key", name)


# -- the current app's key store ---------------------------------------------------------


def keystore() -> KeyStore:
    """The key store of the current app."""
    store = state.keystore
    if store is None:
        raise RuntimeError("this app has no key store: it is made by GDPRChat.init_app")
    return store


def data_key(kind: str, subject_id: int, *, born_at: dt.datetime | None = None) -> bytes:
    """The subject's data key in the current app's key store (made on first use)."""
    return keystore().data_key(kind, subject_id, born_at=born_at)


def existing_key(kind: str, subject_id: int) -> bytes | None:
    """The subject's data key, or None when it has none or it was destroyed."""
    return keystore().existing_key(kind, subject_id)


def destroy_key(kind: str, subject_id: int) -> None:
    """Destroy the subject's data key and leave a tombstone (idempotent)."""
    keystore().destroy_key(kind, subject_id)


def is_destroyed(kind: str, subject_id: int) -> bool:
    """Whether the subject's data key was destroyed."""
    return keystore().is_destroyed(kind, subject_id)


def known_subjects(kind: str) -> set[int]:
    """Ids of the subjects of ``kind`` with a live key."""
    return keystore().known_subjects(kind)


def blind_index(value: str, purpose: str = "email") -> str:
    """The keyed blind index of a value (an e-mail address, an external id) for this site."""
    return keystore().blind_index(value, purpose)


def rewrap_all(new_master_key: bytes) -> int:
    """Re-wrap every key of the current app's key store under ``new_master_key``."""
    return keystore().rewrap_all(new_master_key)


__all__ = [
    "KeyDestroyedError", "KeyStore", "KeyStoreError", "WrongMasterKeyError", "blind_index",
    "data_key", "destroy_key", "existing_key", "is_destroyed", "key_id", "keystore",
    "keystore_for_app", "known_subjects", "rewrap_all",
]
