"""The key store, the master key and their command: the machinery of crypto-shredding.

Most tests drive :class:`KeyStore` objects on a SQLite file directly; two objects on
one file stand for two server processes. The app-level tests check what
``init_app`` sets up and the ``rotate-master-key`` command.
"""
from __future__ import annotations

import base64
import os
import stat
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_gdprchat.core import crypto
from flask_gdprchat.core import keystore as keystore_module
from flask_gdprchat.core.config import ConfigError
from flask_gdprchat.core.keystore import (
    KeyDestroyedError,
    KeyStore,
    KeyStoreError,
    WrongMasterKeyError,
)
from flask_gdprchat.core.keystore_db import subject_keys, tombstones
from flask_gdprchat.core.master_key import KEY_FILE, MasterKey, encode_key, key_id, parse_key
from tests.conftest import POSTGRES_URL, _postgres_uri

AAD = crypto.row_aad("gdprchat_contacts", "email", 42)

StoreFactory = Callable[..., KeyStore]


@pytest.fixture
def make_store(tmp_path: Path) -> Iterator[StoreFactory]:
    """``make_store(master=None, name="keys", **options)``: a key store on a SQLite file."""
    made: list[KeyStore] = []

    def factory(master: bytes | None = None, name: str = "keys", **options: Any) -> KeyStore:
        store = KeyStore(f"sqlite:///{tmp_path / name}.sqlite3",
                         MasterKey(master or os.urandom(32)), **options)
        made.append(store)
        return store

    yield factory
    for store in made:
        store.dispose()


def file_bytes(store: KeyStore) -> bytes:
    """Everything in the key store's files (main, WAL, journal), after a checkpoint."""
    store.scrub_free_space()
    return b"".join(Path(p).read_bytes() for p in store.files())


def count_queries(store: KeyStore) -> list[str]:
    """A list that records every statement the store's engine runs from now on."""
    seen: list[str] = []
    sa.event.listen(store.engine, "before_cursor_execute",
                    lambda _c, _cur, statement, *_a: seen.append(statement))
    return seen


# -- sealing values --------------------------------------------------------------------


def test_a_value_round_trips_and_every_seal_differs() -> None:
    key = crypto.new_key()
    text = "Zoë <zoe@example.test>"
    first, second = crypto.encrypt(key, text, AAD), crypto.encrypt(key, text, AAD)
    assert crypto.decrypt(key, first, AAD) == text
    assert crypto.decrypt(key, crypto.encrypt(key, "", AAD), AAD) == ""
    # A fresh nonce each time: equal values are not equal ciphertexts.
    assert first != second
    assert first[0] == crypto.VERSION and len(first) == crypto.OVERHEAD + len(text.encode())
    assert b"zoe@example.test" not in first


def test_a_value_moved_to_another_row_or_column_does_not_open() -> None:
    key = crypto.new_key()
    blob = crypto.encrypt(key, "secret", AAD)
    for elsewhere in (crypto.row_aad("gdprchat_contacts", "email", 43),
                      crypto.row_aad("gdprchat_contacts", "name", 42),
                      crypto.row_aad("gdprchat_agents", "email", 42)):
        with pytest.raises(crypto.DecryptionError):
            crypto.decrypt(key, blob, elsewhere)


def test_a_wrong_key_or_an_altered_byte_does_not_open() -> None:
    key = crypto.new_key()
    blob = crypto.encrypt(key, "secret", AAD)
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(crypto.new_key(), blob, AAD)
    for position in (0, 1, len(blob) - 1):  # the version, the nonce, the tag
        altered = bytearray(blob)
        altered[position] ^= 1
        with pytest.raises(crypto.DecryptionError):
            crypto.decrypt(key, bytes(altered), AAD)
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(key, blob[:10], AAD)
    with pytest.raises(ValueError):
        crypto.encrypt(b"short", "x", AAD)


# -- data keys -------------------------------------------------------------------------


def test_keys_are_32_bytes_distinct_per_subject_and_stable(make_store: StoreFactory) -> None:
    master = os.urandom(32)
    store = make_store(master)
    keys = {(kind, n): store.data_key(kind, n) for kind in ("contact", "agent") for n in (1, 2)}
    assert all(len(k) == 32 for k in keys.values())
    assert len(set(keys.values())) == 4
    # Another process on the same key store gets the same keys, not new ones.
    other = make_store(master)
    assert other.data_key("contact", 1) == keys[("contact", 1)]
    assert other.existing_key("agent", 2) == keys[("agent", 2)]
    assert other.existing_key("contact", 3) is None
    assert store.known_subjects("contact") == {1, 2}
    with pytest.raises(ValueError):
        store.data_key("visitor", 1)
    with pytest.raises(ValueError):
        store.data_key("contact", 0)


def test_processes_making_one_subjects_key_at_once_agree(make_store: StoreFactory) -> None:
    master = os.urandom(32)
    stores = [make_store(master) for _ in range(6)]
    stores[0].existing_key("contact", 9)  # schema in place; the race is on the key itself
    found: list[bytes] = []
    threads = [threading.Thread(target=lambda s=s: found.append(s.data_key("contact", 9)))
               for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == 6 and len(set(found)) == 1


def test_a_process_that_loses_the_insert_race_takes_the_winners_key(
    make_store: StoreFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    master = os.urandom(32)
    loser, winner = make_store(master), make_store(master)
    real = loser._make_subject_key
    calls: list[int] = []

    def racing(ident: tuple[str, int], born_at: object) -> tuple[bytes, int]:
        calls.append(1)
        if len(calls) == 1:  # the winner commits first; our insert hits its primary key
            winner.data_key(*ident)
            raise sa.exc.IntegrityError("INSERT", {}, Exception("duplicate key"))
        return real(ident, born_at)

    monkeypatch.setattr(loser, "_make_subject_key", racing)
    assert loser.data_key("contact", 4) == winner.existing_key("contact", 4)
    assert len(calls) == 2


def test_the_key_store_files_hold_wrapped_keys_never_raw_ones(make_store: StoreFactory) -> None:
    store = make_store()
    raw = [store.data_key("contact", n) for n in range(1, 6)]
    store.blind_index("ada@example.test")
    data = file_bytes(store)
    with store.engine.connect() as conn:
        wrapped = list(conn.scalars(sa.select(subject_keys.c.wrapped_key)))
    assert len(wrapped) == 5 and all(w in data for w in wrapped)  # the scan does see the rows
    assert not any(key in data for key in raw)
    assert store._blind_index_key() not in data


def test_a_wrapped_key_moved_to_another_subject_is_refused(make_store: StoreFactory) -> None:
    master = os.urandom(32)
    store = make_store(master)
    store.data_key("contact", 1)
    store.data_key("contact", 2)
    with store.engine.begin() as conn:
        first = conn.scalar(sa.select(subject_keys.c.wrapped_key).where(subject_keys.c.subject_id == 1))
        conn.execute(sa.update(subject_keys).where(subject_keys.c.subject_id == 2)
                     .values(wrapped_key=first))
    with pytest.raises(KeyStoreError, match="altered or a key moved"):
        make_store(master).existing_key("contact", 2)


# -- destroying keys ---------------------------------------------------------------------


def test_destroy_leaves_a_tombstone_and_the_key_is_gone_for_good(make_store: StoreFactory) -> None:
    store = make_store()
    key = store.data_key("contact", 7)
    neighbour = store.data_key("contact", 8)
    blob = crypto.encrypt(key, "hello", AAD)
    with store.engine.connect() as conn:
        wrapped = conn.scalar(sa.select(subject_keys.c.wrapped_key)
                              .where(subject_keys.c.subject_id == 7))
    assert wrapped in file_bytes(store)

    store.destroy_key("contact", 7)
    store.destroy_key("contact", 7)  # idempotent

    assert store.is_destroyed("contact", 7) and not store.is_destroyed("contact", 8)
    assert store.existing_key("contact", 7) is None
    with pytest.raises(KeyDestroyedError):
        store.data_key("contact", 7)  # never a fresh key for an erased subject
    assert store.known_subjects("contact") == {8}
    assert store.existing_key("contact", 8) == neighbour
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(tombstones)).all()
    assert [tuple(r)[:2] for r in rows] == [("contact", 7)]
    # The tombstone holds who and when, nothing personal.
    assert set(tombstones.c.keys()) == {"subject_kind", "subject_id", "destroyed_at"}
    # secure_delete and the checkpoint: the wrapped key left the files too.
    assert wrapped not in file_bytes(store)
    # What was sealed under the key stays sealed: no store gives the key again.
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(neighbour, blob, AAD)


def test_a_never_seen_subject_can_be_destroyed_and_then_gets_no_key(make_store: StoreFactory) -> None:
    store = make_store()
    store.destroy_key("agent", 3)
    assert store.is_destroyed("agent", 3)
    with pytest.raises(KeyDestroyedError):
        store.data_key("agent", 3)


def test_a_cached_key_is_not_used_after_its_destroy_in_the_same_process(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    store.data_key("contact", 1)
    assert store.existing_key("contact", 1) is not None  # now cached
    store.destroy_key("contact", 1)
    assert store.existing_key("contact", 1) is None


class FakeClock:
    """``time`` as the key store sees it, moved on by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


def test_a_key_another_process_destroyed_leaves_the_cache_within_recheck_seconds(
    make_store: StoreFactory, monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(keystore_module, "time", clock)
    master = os.urandom(32)
    web, worker = make_store(master, recheck_seconds=1.0), make_store(master)
    key = web.data_key("contact", 1)
    queries = count_queries(web)
    # Within the second every message of the subject, in any request, uses the
    # cache: no key-store read at all.
    for _ in range(50):
        with Flask("keystore_cache").app_context():
            assert web.existing_key("contact", 1) == key
    assert queries == []
    worker.destroy_key("contact", 1)
    clock.now += 1.0
    assert web.existing_key("contact", 1) is None
    assert len(queries) >= 1  # it looked at the generation again, and then the key
    # One look serves the next second: another subject's cached key costs nothing.
    other = web.data_key("contact", 2)
    queries.clear()
    assert web.existing_key("contact", 2) == other and queries == []


def test_a_look_at_the_generation_that_saw_nothing_keeps_the_cache(
    make_store: StoreFactory, monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(keystore_module, "time", clock)
    store = make_store(recheck_seconds=1.0)
    key = store.data_key("contact", 1)
    clock.now += 5.0
    queries = count_queries(store)
    assert store.existing_key("contact", 1) == key
    # The generation only: unchanged, so the key stays cached and is not read again.
    assert any("destroy_generation" in q for q in queries)
    assert not any("gdprchat_keys_subject_keys" in q for q in queries)


def test_a_job_with_no_recheck_interval_sees_every_destroy(make_store: StoreFactory) -> None:
    master = os.urandom(32)
    job, web = make_store(master, recheck_seconds=0.0), make_store(master)
    with Flask("keystore_job").app_context():
        job.data_key("contact", 1)
        web.destroy_key("contact", 1)
        assert job.existing_key("contact", 1) is None


def test_the_cache_is_bounded(make_store: StoreFactory) -> None:
    store = make_store(cache_size=2)
    with Flask("keystore_lru").app_context():
        for n in (1, 2, 3):
            store.data_key("contact", n)
        queries = count_queries(store)
        store.existing_key("contact", 3)
        assert queries == []  # recent: cached
        store.existing_key("contact", 1)
        assert queries != []  # pushed out by the third key: read again


# -- the blind index ---------------------------------------------------------------------


def test_the_blind_index_is_stable_normalised_and_keyed_per_site(make_store: StoreFactory) -> None:
    master = os.urandom(32)
    site = make_store(master)
    digest = site.blind_index("ada@example.test")
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert "@" not in digest and digest != "ada@example.test"  # hex, not the address
    assert site.blind_index("  Ada@Example.TEST \n") == digest
    assert make_store(master).blind_index("ada@example.test") == digest  # another process
    assert site.blind_index("bob@example.test") != digest
    # Another site (another key store, so another blind-index key): another digest.
    assert make_store(name="other_site").blind_index("ada@example.test") != digest


# -- the master key ----------------------------------------------------------------------


def test_a_wrong_master_key_gives_a_clear_error(make_store: StoreFactory) -> None:
    store = make_store()
    store.data_key("contact", 1)
    stranger = make_store()  # same file, another master key
    with pytest.raises(WrongMasterKeyError, match="GDPRCHAT_MASTER_KEY is not the key store's"):
        stranger.existing_key("contact", 1)
    with pytest.raises(WrongMasterKeyError):
        stranger.blind_index("ada@example.test")
    # Erasure needs no master key: it works even then.
    stranger.destroy_key("contact", 1)
    assert store.is_destroyed("contact", 1)


def test_rewrap_all_moves_every_key_under_the_new_master_key(make_store: StoreFactory) -> None:
    old, new = os.urandom(32), os.urandom(32)
    store = make_store(old)
    key = store.data_key("contact", 1)
    store.data_key("agent", 1)
    digest = store.blind_index("ada@example.test")
    blob = crypto.encrypt(key, "made before the rotation", AAD)
    with store.engine.connect() as conn:
        old_wrapped = list(conn.scalars(sa.select(subject_keys.c.wrapped_key)))

    assert store.rewrap_all(new) == 3  # two subject keys and the blind-index key
    assert store.master_key_id == key_id(new)

    with pytest.raises(WrongMasterKeyError):
        make_store(old).existing_key("contact", 1)
    fresh = make_store(new)
    assert crypto.decrypt(fresh.existing_key("contact", 1) or b"", blob, AAD) == "made before the rotation"
    assert fresh.blind_index("ada@example.test") == digest
    assert store.existing_key("contact", 1) == key  # this process goes on, under the new key
    assert not any(w in file_bytes(store) for w in old_wrapped)
    # Run again with the same key (a rotation whose key file was not yet replaced): nothing to do.
    with pytest.raises(ValueError, match="in use"):
        store.rewrap_all(new)
    assert make_store(old).rewrap_all(new) == 0


def test_rewrap_all_reaches_every_key_of_a_store_larger_than_a_batch(
    make_store: StoreFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flask_gdprchat.core import keystore_db

    monkeypatch.setattr(keystore_db, "ROTATE_BATCH", 2)  # seven keys: four batches
    old, new = os.urandom(32), os.urandom(32)
    store = make_store(old)
    keys = {(kind, n): store.data_key(kind, n) for kind, n in
            [("agent", 1), ("agent", 2)] + [("contact", n) for n in range(1, 6)]}
    assert store.rewrap_all(new) == 7
    fresh = make_store(new)
    assert {ident: fresh.existing_key(*ident) for ident in keys} == keys


# -- the app -----------------------------------------------------------------------------


def test_init_app_makes_the_key_store_and_keeps_a_generated_master_key(make_app: Any) -> None:
    app = make_app()
    chat_state = app.extensions["gdprchat"]
    key_file = Path(app.instance_path) / KEY_FILE
    assert chat_state.keystore is not None
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert chat_state.keystore.master_key_id == key_id(parse_key(key_file.read_text()))
    # Nothing connects at start-up: the key store file appears on first use.
    keys_file = Path(app.instance_path) / "gdprchat-keys.sqlite3"
    assert not keys_file.exists()
    from flask_gdprchat.core import keystore

    with app.app_context():
        key = keystore.data_key("contact", 1)
        assert keystore.existing_key("contact", 1) == key
        assert keystore.blind_index("a@example.test") == keystore.blind_index("A@example.test ")
        keystore.destroy_key("contact", 1)
        assert keystore.is_destroyed("contact", 1) and keystore.known_subjects("contact") == set()
    assert keys_file.exists()
    chat_state.keystore.dispose()


def test_a_configured_master_key_is_used_and_no_file_is_written(make_app: Any) -> None:
    master = encode_key(os.urandom(32))
    app = make_app(GDPRCHAT_MASTER_KEY=master)
    assert app.extensions["gdprchat"].keystore.master_key_id == key_id(parse_key(master))
    assert app.extensions["gdprchat"].keystore.master_key_path is None
    assert not (Path(app.instance_path) / KEY_FILE).exists()


@pytest.mark.parametrize("value", ["not a key", base64.urlsafe_b64encode(b"x" * 16).decode(), 42])
def test_a_master_key_that_is_not_one_stops_start_up_without_showing_it(
    make_app: Any, value: Any
) -> None:
    with pytest.raises(ConfigError, match="GDPRCHAT_MASTER_KEY") as caught:
        make_app(GDPRCHAT_MASTER_KEY=value)
    assert str(value) not in str(caught.value)


def test_the_key_store_must_not_be_the_chats_own_database(make_app: Any, tmp_path: Path) -> None:
    data = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    with pytest.raises(ConfigError, match="GDPRCHAT_KEYSTORE_URI names the chat's own database"):
        make_app(SQLALCHEMY_DATABASE_URI=data, GDPRCHAT_KEYSTORE_URI=data, init=False)
    with pytest.raises(ConfigError, match="GDPRCHAT_KEYSTORE_URI"):
        make_app(GDPRCHAT_KEYSTORE_URI="no such thing", init=False)


# -- the command -------------------------------------------------------------------------


def _seal_one(app: Flask) -> bytes:
    from flask_gdprchat.core import keystore

    with app.app_context():
        keystore.blind_index("ada@example.test")
        return crypto.encrypt(keystore.data_key("contact", 1), "kept as it was", AAD)


def _opens_with(app: Flask, master: bytes, blob: bytes) -> bool:
    store = KeyStore(app.extensions["gdprchat"].keystore.engine.url.render_as_string(False),
                     MasterKey(master))
    try:
        return crypto.decrypt(store.existing_key("contact", 1) or b"", blob, AAD) == "kept as it was"
    finally:
        store.dispose()


def test_rotate_master_key_replaces_a_generated_key_in_its_file(make_app: Any) -> None:
    app = make_app()
    blob = _seal_one(app)
    key_file = Path(app.instance_path) / KEY_FILE
    old = parse_key(key_file.read_text())

    result = app.test_cli_runner().invoke(args=["gdprchat", "rotate-master-key", "--yes"])

    assert result.exit_code == 0, result.output
    new = parse_key(key_file.read_text())
    assert new != old and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert f"Re-wrapped 2 keys under master key {key_id(new)}" in result.stdout  # data key + blind index
    assert f"kept in {key_file}" in result.stdout
    assert encode_key(new) not in result.output  # a kept key is never shown
    assert list(key_file.parent.glob(KEY_FILE + ".*")) == []
    with pytest.raises(WrongMasterKeyError):
        _opens_with(app, old, blob)
    assert _opens_with(app, new, blob)


def test_rotate_master_key_shows_a_configured_key_once(make_app: Any) -> None:
    old = os.urandom(32)
    app = make_app(GDPRCHAT_MASTER_KEY=encode_key(old))
    blob = _seal_one(app)

    result = app.test_cli_runner().invoke(args=["gdprchat", "rotate-master-key", "--generate", "--yes"])

    assert result.exit_code == 0, result.output
    shown = [line.rsplit(": ", 1)[1] for line in result.stdout.splitlines()
             if line.startswith("New master key (shown once): ")]
    assert len(shown) == 1
    assert "Set GDPRCHAT_MASTER_KEY to the new key" in result.stdout
    assert _opens_with(app, parse_key(shown[0]), blob)
    with pytest.raises(WrongMasterKeyError):
        _opens_with(app, old, blob)
    assert not (Path(app.instance_path) / KEY_FILE).exists()


def test_rotate_master_key_takes_a_given_key_without_echoing_it(make_app: Any) -> None:
    app = make_app(GDPRCHAT_MASTER_KEY=encode_key(os.urandom(32)))
    blob = _seal_one(app)
    given = encode_key(os.urandom(32))
    result = app.test_cli_runner().invoke(
        args=["gdprchat", "rotate-master-key", "--new-key", given, "--yes"])
    assert result.exit_code == 0, result.output
    assert given not in result.output
    assert _opens_with(app, parse_key(given), blob)


@pytest.mark.parametrize("args, message", [
    (["--new-key", "not-a-key"], "--new-key: a master key is the url-safe base64 text"),
    (["--new-key", encode_key(b"k" * 32), "--generate"], "not both"),
])
def test_rotate_master_key_refuses_a_bad_choice_in_one_line(
    make_app: Any, args: list[str], message: str
) -> None:
    app = make_app()
    before = (Path(app.instance_path) / KEY_FILE).read_text()
    result = app.test_cli_runner().invoke(args=["gdprchat", "rotate-master-key", *args, "--yes"])
    assert result.exit_code == 1
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output and "not-a-key" not in result.stderr
    assert (Path(app.instance_path) / KEY_FILE).read_text() == before


def test_rotate_master_key_to_the_key_in_use_is_refused(make_app: Any) -> None:
    current = encode_key(os.urandom(32))
    app = make_app(GDPRCHAT_MASTER_KEY=current)
    result = app.test_cli_runner().invoke(
        args=["gdprchat", "rotate-master-key", "--new-key", current, "--yes"])
    assert result.exit_code == 1 and "the one in use" in result.stderr


def test_rotate_master_key_asks_first_and_a_no_changes_nothing(make_app: Any) -> None:
    app = make_app()
    blob = _seal_one(app)
    key_file = Path(app.instance_path) / KEY_FILE
    before = key_file.read_text()
    result = app.test_cli_runner().invoke(args=["gdprchat", "rotate-master-key"], input="n\n")
    assert result.exit_code == 1
    assert "Re-wrap every key under a new master key" in result.output
    assert key_file.read_text() == before and _opens_with(app, parse_key(before), blob)


def test_rotate_master_key_with_the_wrong_master_key_changes_nothing(
    make_app: Any, tmp_path: Path
) -> None:
    keys = f"sqlite:///{tmp_path / 'keys.sqlite3'}"
    right = os.urandom(32)
    blob = _seal_one(make_app(GDPRCHAT_MASTER_KEY=encode_key(right), GDPRCHAT_KEYSTORE_URI=keys))
    # Another instance folder, so another generated master key, on the same key store.
    wrong_app = make_app(GDPRCHAT_KEYSTORE_URI=keys)
    key_file = Path(wrong_app.instance_path) / KEY_FILE
    before = key_file.read_text()

    result = wrong_app.test_cli_runner().invoke(args=["gdprchat", "rotate-master-key", "--yes"])

    assert result.exit_code == 1
    assert "key store unchanged: GDPRCHAT_MASTER_KEY is not the key store's" in result.stderr
    assert key_file.read_text() == before
    assert list(key_file.parent.glob(KEY_FILE + ".*")) == []  # the staged key is gone
    assert _opens_with(wrong_app, right, blob)


def test_an_unfinished_rotations_key_is_never_overwritten(make_app: Any) -> None:
    app = make_app()
    staged = Path(app.instance_path) / (KEY_FILE + ".next")
    staged.write_text(encode_key(os.urandom(32)))
    result = app.test_cli_runner().invoke(args=["gdprchat", "rotate-master-key", "--yes"])
    assert result.exit_code == 1 and "unfinished rotation" in result.stderr
    assert parse_key(staged.read_text())


# -- PostgreSQL ----------------------------------------------------------------------------


@pytest.mark.postgres
def test_the_key_store_works_in_a_postgresql_database_of_its_own() -> None:
    assert POSTGRES_URL
    name = f"gdprchat_keys_test_{uuid.uuid4().hex[:10]}"
    server = sa.create_engine(_postgres_uri(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    uri = sa.engine.make_url(_postgres_uri(POSTGRES_URL)).set(database=name).render_as_string(False)
    old, new = os.urandom(32), os.urandom(32)
    stores: list[KeyStore] = []
    try:
        store, other = KeyStore(uri, MasterKey(old)), KeyStore(uri, MasterKey(old))
        stores += [store, other]
        key = store.data_key("contact", 1)
        assert other.data_key("contact", 1) == key and len(key) == 32
        digest = store.blind_index(" Ada@Example.test")
        blob = crypto.encrypt(key, "on postgres", AAD)
        with Flask("keystore_pg").app_context():
            assert other.existing_key("contact", 1) == key  # cached in "another process"
        # Processes making one subject's key at once agree on it (a primary-key race).
        racers = [KeyStore(uri, MasterKey(old)) for _ in range(4)]
        stores += racers
        found: list[bytes] = []
        threads = [threading.Thread(target=lambda s=s: found.append(s.data_key("contact", 2)))
                   for s in racers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(found) == 4 and len(set(found)) == 1
        store.data_key("agent", 1)
        store.destroy_key("agent", 1)
        store.destroy_key("agent", 1)
        assert other.is_destroyed("agent", 1) and other.existing_key("agent", 1) is None
        with pytest.raises(KeyDestroyedError):
            other.data_key("agent", 1)
        assert store.known_subjects("contact") == {1, 2}
        assert store.rewrap_all(new) == 3
        stale, fresh = KeyStore(uri, MasterKey(old)), KeyStore(uri, MasterKey(new))
        stores += [stale, fresh]
        with pytest.raises(WrongMasterKeyError):
            stale.existing_key("contact", 1)
        assert crypto.decrypt(fresh.existing_key("contact", 1) or b"", blob, AAD) == "on postgres"
        assert fresh.blind_index("ada@example.test") == digest
        with fresh.engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
        assert tables == {"gdprchat_keys_state", "gdprchat_keys_subject_keys",
                          "gdprchat_keys_tombstones", "gdprchat_keys_site_keys"}
    finally:
        for store in stores:
            store.dispose()
        with server.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.dispose()
