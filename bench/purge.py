"""How fast the retention purge removes rows, against a plain batched DELETE.

Builds a database of 100,000 anonymous chats (one contact, one consent record,
one conversation and ten messages each: 1,000,000 messages), half of them past
the anonymous retention and interleaved with the others, then:

1. runs :func:`flask_gdprchat.retention.purge.purge_expired` on it;
2. rebuilds the same data and deletes the same rows with plain ``DELETE ...
   WHERE id IN (...)`` statements by primary key, child tables first, in
   batches of the same number of rows, one commit each.

It prints rows per second and the longest single transaction of both, and their
ratio. The target: the purge reaches at least 0.7 of the plain delete's rate, and
no transaction lasts longer than 150 ms.

While each runs, a chat server on the same database (gevent, core 0) takes an
open-loop chat load (``--chat-rate`` messages per second from 20 visitors, core
1, where this process deletes too): the p99 of its answers during the deletion
is printed beside the p99 of the seconds before it started.

    python bench/purge.py --db sqlite     # 10,000 chats (100,000 messages)
    python bench/purge.py --db postgres   # GDPRCHAT_BENCH_POSTGRES_URL or the default below
    python bench/purge.py --full          # 100,000 chats (1,000,000 messages)

For PostgreSQL a scratch database is created and dropped on the server.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa  # noqa: E402
from _common import BENCH, CLIENT_CORE, pin, start_server  # noqa: E402
from flask import Flask  # noqa: E402

from flask_gdprchat import GDPRChat  # noqa: E402
from flask_gdprchat.core.database import init_db  # noqa: E402
from flask_gdprchat.core.models import Base  # noqa: E402
from flask_gdprchat.core.state import session, state  # noqa: E402
from flask_gdprchat.retention.purge import purge_expired  # noqa: E402

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
NOW = dt.datetime(2030, 1, 1)
EXPIRED = NOW - dt.timedelta(days=400)  # past the default 270 days
RECENT = NOW - dt.timedelta(days=10)


# -- data --------------------------------------------------------------------------------------


def _fill_sqlite(connection: sa.Connection, chats: int, per_chat: int) -> None:
    def numbers(n: int) -> str:
        return (f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                f"WHERE i < {n}) ")

    # Even ids are expired: the purge must pick them out from among the others.
    when = f"CASE WHEN i % 2 = 0 THEN '{EXPIRED}' ELSE '{RECENT}' END"
    connection.exec_driver_sql(
        numbers(chats) + "INSERT INTO gdprchat_contacts (id, marketing_consent, link_epoch, "
        f"created_at, last_activity_at) SELECT i, 0, 0, {when}, {when} FROM n")
    connection.exec_driver_sql(
        numbers(chats) + "INSERT INTO gdprchat_consents (id, contact_id, purpose, "
        "policy_version, wording, given_at) SELECT i, i, 'privacy_policy', '1', "
        f"'I have read and accept the privacy policy.', {when} FROM n")
    connection.exec_driver_sql(
        numbers(chats) + "INSERT INTO gdprchat_conversations (id, contact_id, "
        "visitor_token_hash, status, created_at, last_activity_at, unread_count) "
        f"SELECT i, i, printf('%064d', i), 'open', {when}, {when}, 0 FROM n")
    connection.exec_driver_sql(
        numbers(chats * per_chat) + "INSERT INTO gdprchat_messages (id, conversation_id, "
        "author, text, created_at) SELECT i, (i - 1) / " + str(per_chat) + " + 1, 'visitor', "
        f"'Hello, I would like to know more about message number ' || i, '{RECENT}' FROM n")
    connection.exec_driver_sql("ANALYZE")


def _fill_postgres(connection: sa.Connection, chats: int, per_chat: int) -> None:
    when = f"CASE WHEN mod(i, 2) = 0 THEN TIMESTAMP '{EXPIRED}' ELSE TIMESTAMP '{RECENT}' END"
    series = f"FROM generate_series(1, {chats}) AS i"
    connection.exec_driver_sql(
        "INSERT INTO gdprchat_contacts (id, marketing_consent, link_epoch, created_at, "
        f"last_activity_at) SELECT i, false, 0, {when}, {when} {series}")
    connection.exec_driver_sql(
        "INSERT INTO gdprchat_consents (id, contact_id, purpose, policy_version, wording, "
        "given_at) SELECT i, i, 'privacy_policy', '1', "
        f"'I have read and accept the privacy policy.', {when} {series}")
    connection.exec_driver_sql(
        "INSERT INTO gdprchat_conversations (id, contact_id, visitor_token_hash, status, "
        f"created_at, last_activity_at, unread_count) SELECT i, i, lpad(i::text, 64, '0'), "
        f"'open', {when}, {when}, 0 {series}")
    connection.exec_driver_sql(
        "INSERT INTO gdprchat_messages (id, conversation_id, author, text, created_at) "
        f"SELECT i, (i - 1) / {per_chat} + 1, 'visitor', "
        "'Hello, I would like to know more about message number ' || i, "
        f"TIMESTAMP '{RECENT}' FROM generate_series(1, {chats * per_chat}) AS i")
    # The ids were given: move each sequence past them, for the chat running beside.
    for name in ("contacts", "consents", "conversations", "messages"):
        connection.exec_driver_sql(
            f"SELECT setval(pg_get_serial_sequence('gdprchat_{name}', 'id'), "
            f"(SELECT max(id) FROM gdprchat_{name}))")
    connection.exec_driver_sql("ANALYZE")


def build(chats: int, per_chat: int) -> float:
    """Empty every table and write the data set; returns the seconds it took."""
    started = time.perf_counter()
    engine = state.db.engine
    session().remove()
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            names = ", ".join(t.name for t in Base.metadata.sorted_tables)
            connection.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
            _fill_postgres(connection, chats, per_chat)
        else:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())
            _fill_sqlite(connection, chats, per_chat)
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return time.perf_counter() - started


# -- the two ways of deleting ----------------------------------------------------------------


def run_purge(batch: int) -> tuple[int, float, float, int]:
    """rows, seconds, longest transaction, batches."""
    started = time.perf_counter()
    report = purge_expired(NOW, batch_size=batch, actor="cli")
    return (report.total(), time.perf_counter() - started, report.longest_batch_seconds,
            report.batches)


def run_plain_delete(batch: int) -> tuple[int, float, float, int, float]:
    """rows, seconds deleting, longest transaction, transactions, seconds finding ids."""
    engine = state.db.engine
    found = time.perf_counter()
    cutoff = f"'{NOW - dt.timedelta(days=270)}'"
    if engine.dialect.name == "postgresql":
        cutoff = f"TIMESTAMP {cutoff}"
    expired = (f"SELECT id FROM gdprchat_conversations WHERE last_activity_at < {cutoff}")
    plan = [  # child tables first, each by its primary key
        ("gdprchat_messages",
         f"SELECT id FROM gdprchat_messages WHERE conversation_id IN ({expired}) ORDER BY id"),
        ("gdprchat_conversations", expired + " ORDER BY id"),
        ("gdprchat_consents",
         "SELECT id FROM gdprchat_consents WHERE contact_id IN "
         f"(SELECT id FROM gdprchat_contacts WHERE last_activity_at < {cutoff}) ORDER BY id"),
        ("gdprchat_contacts",
         f"SELECT id FROM gdprchat_contacts WHERE last_activity_at < {cutoff} ORDER BY id"),
    ]
    with engine.connect() as connection:
        ids = {table: [row[0] for row in connection.exec_driver_sql(sql)] for table, sql in plan}
    finding = time.perf_counter() - found

    rows = transactions = 0
    longest = 0.0
    started = time.perf_counter()
    with engine.connect() as connection:
        for table, _sql in plan:
            keys = ids[table]
            statement = sa.text(f"DELETE FROM {table} WHERE id IN :ids").bindparams(
                sa.bindparam("ids", expanding=True))
            for at in range(0, len(keys), batch):
                began = time.perf_counter()
                with connection.begin():
                    rows += connection.execute(statement, {"ids": keys[at:at + batch]}).rowcount
                longest = max(longest, time.perf_counter() - began)
                transactions += 1
    return rows, time.perf_counter() - started, longest, transactions, finding


# -- the chat beside it ------------------------------------------------------------------------


class ChatLoad:
    """Answer latencies of a chat server taking load while something else runs."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []
        self.began = self.ended = 0.0

    def p99(self, during: bool) -> tuple[float, int]:
        """(p99 in ms, how many answers) inside the marked window, or outside it."""
        inside = sorted(lat for when, lat in self.samples
                        if (self.began <= when <= self.ended) == during)
        if not inside:
            return float("nan"), 0
        return inside[min(len(inside) - 1, int(0.99 * len(inside)))] * 1000, len(inside)


@contextlib.contextmanager
def chat_load(db_uri: str, rate: float, baseline: float = 2.0) -> Iterator[ChatLoad]:
    """A chat server on ``db_uri`` under ``rate`` msg/s; ``baseline`` s measured first.

    Mark the work measured with ``load.began`` and ``load.ended`` (wall times).
    """
    load = ChatLoad()
    server = start_server("product", "gevent", db=db_uri)
    client = subprocess.Popen([sys.executable, str(BENCH / "_load.py"), server.url, str(rate),
                               "20"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              preexec_fn=lambda: pin(CLIENT_CORE))
    try:
        assert client.stdout.readline().strip() == "LOADING"
        time.sleep(baseline)  # the seconds before, for comparison
        yield load
        client.stdin.write("stop\n")
        client.stdin.flush()
        result = json.loads(client.stdout.readline())
        load.samples = [tuple(s) for s in result["samples"]]
        client.wait(timeout=60)
    finally:
        if client.poll() is None:
            client.kill()
        server.stop()


# -- set-up --------------------------------------------------------------------------------------


def make_app(db: str, workdir: str) -> tuple[Flask, str | None]:
    app = Flask("gdprchat_bench", instance_path=workdir)
    app.config.update(SECRET_KEY="bench", GDPRCHAT_SCHEDULER=False)
    scratch = None
    if db == "postgres":
        server_url = sa.engine.make_url(
            os.environ.get("GDPRCHAT_BENCH_POSTGRES_URL", DEFAULT_POSTGRES))
        scratch = f"gdprchat_bench_{uuid.uuid4().hex[:8]}"
        server = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
        with server.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{scratch}"')
        server.dispose()
        app.config["SQLALCHEMY_DATABASE_URI"] = server_url.set(database=scratch).render_as_string(
            hide_password=False)
    GDPRChat(app)
    return app, scratch


def drop_scratch(scratch: str) -> None:
    server_url = sa.engine.make_url(os.environ.get("GDPRCHAT_BENCH_POSTGRES_URL",
                                                   DEFAULT_POSTGRES))
    server = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    server.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--chats", type=int, default=10_000, help="conversations")
    parser.add_argument("--full", action="store_true", help="100,000 conversations")
    parser.add_argument("--chat-rate", type=float, default=100,
                        help="chat messages per second offered meanwhile (0: no chat)")
    parser.add_argument("--messages", type=int, default=10, help="messages per conversation")
    parser.add_argument("--batch-size", type=int, default=500, help="rows per transaction")
    args = parser.parse_args()
    if args.full:
        args.chats = 100_000
    pin(CLIENT_CORE)

    workdir = tempfile.mkdtemp(prefix="gdprchat-bench-")
    app, scratch = make_app(args.db, workdir)
    try:
        with app.app_context():
            init_db()
            print(f"{args.db}: {args.chats:,} conversations, {args.chats * args.messages:,} "
                  f"messages, half expired; {args.batch_size} rows per transaction")
            uri = state.db.engine.url.render_as_string(hide_password=False)
            print(f"  data written in {build(args.chats, args.messages):.1f} s")
            with measured_chat(uri, args.chat_rate) as load:
                rows, seconds, longest, batches = run_purge(args.batch_size)
            purge_rate = rows / seconds
            print(f"  purge_expired : {rows:,} rows in {seconds:.2f} s = {purge_rate:,.0f} rows/s;"
                  f" longest transaction {longest * 1000:.0f} ms over {batches} batches"
                  f"{chat_line(load)}")

            print(f"  data rewritten in {build(args.chats, args.messages):.1f} s")
            with measured_chat(uri, args.chat_rate) as load:
                p_rows, p_seconds, p_longest, p_tx, finding = run_plain_delete(args.batch_size)
            plain_rate = p_rows / p_seconds
            print(f"  plain DELETE  : {p_rows:,} rows in {p_seconds:.2f} s = {plain_rate:,.0f} "
                  f"rows/s; longest transaction {p_longest * 1000:.0f} ms over {p_tx} "
                  f"transactions (+{finding:.2f} s to list the ids, not counted)"
                  f"{chat_line(load)}")
            ratio = purge_rate / plain_rate
            ok = ratio >= 0.7 and longest <= 0.150
            print(f"  ratio purge/plain = {ratio:.2f}; target >= 0.70 and longest <= 150 ms: "
                  f"{'met' if ok else 'NOT met'}")
            if rows != p_rows:
                print(f"  warning: the two removed different row counts ({rows} vs {p_rows})")
            session().remove()
            state.db.engine.dispose()
        # A figure, not a test: `make bench` goes on to the next scenario either way.
        return 0
    finally:
        if scratch:
            drop_scratch(scratch)


@contextlib.contextmanager
def measured_chat(uri: str, rate: float) -> Iterator[ChatLoad | None]:
    """Run the body under a chat load (none when ``rate`` is 0), its window marked."""
    if not rate:
        yield None
        return
    session().remove()
    with chat_load(uri, rate) as load:
        load.began = time.time()
        try:
            yield load
        finally:
            load.ended = time.time()
            session().remove()


def chat_line(load: ChatLoad | None) -> str:
    if load is None:
        return ""
    (during, n), (before, m) = load.p99(True), load.p99(False)
    return (f"\n                  chat p99 {during:,.0f} ms over {n} answers while it ran "
            f"(before it: {before:,.0f} ms over {m})")


if __name__ == "__main__":
    sys.exit(main())
