"""Erasure of one subject with 10,000 messages, among many others.

Builds ``--others`` subjects with ``--per-other`` messages each and one subject
with ``--messages`` messages, then times ``chat.erase_subject(email)`` (what
"Delete chat", the privacy center and the Python API run: every row of the
subject, pending mail, tokens, the proof of fulfilment). The reference, measured
on the same data rebuilt: a raw delete of the subject's rows (messages,
conversation, consents, contact) in one transaction. Target: erasure <= 1 s.

    python bench/erasure.py [--db sqlite|postgres] [--messages 10000] [--others 200]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SERVER_CORE, add_subject, bench_app, pin, postgres_scratch  # noqa: E402

SUBJECT = "erase.me@example.test"


def build(app, args) -> int:
    for k in range(args.others):
        add_subject(app, f"other{k}@example.test", args.per_other)
    return add_subject(app, SUBJECT, args.messages)


def raw_delete(app, cid: int) -> float:
    from flask_gdprchat.core.state import state

    started = time.perf_counter()
    with app.app_context(), state.db.engine.begin() as connection:
        contact = connection.exec_driver_sql(
            f"SELECT contact_id FROM gdprchat_conversations WHERE id = {cid}").scalar()
        connection.exec_driver_sql(f"DELETE FROM gdprchat_messages WHERE conversation_id = {cid}")
        connection.exec_driver_sql(f"DELETE FROM gdprchat_conversations WHERE id = {cid}")
        connection.exec_driver_sql(f"DELETE FROM gdprchat_consents WHERE contact_id = {contact}")
        connection.exec_driver_sql(f"DELETE FROM gdprchat_contacts WHERE id = {contact}")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--messages", type=int, default=10_000, help="the subject's messages")
    parser.add_argument("--others", type=int, default=200, help="other subjects")
    parser.add_argument("--per-other", type=int, default=50, help="messages each")
    args = parser.parse_args()
    pin(SERVER_CORE)
    drop = None
    uri = None
    if args.db == "postgres":
        uri, drop = postgres_scratch()
    try:
        app, chat = bench_app(uri)
        cid = build(app, args)
        total = args.others * args.per_other + args.messages
        with app.app_context():
            started = time.perf_counter()
            assert chat.erase_subject(SUBJECT)
            erase = time.perf_counter() - started
            cid = add_subject(app, SUBJECT, args.messages)
        raw = raw_delete(app, cid)
        print(f"{args.db}: one subject with {args.messages:,} messages among {args.others:,} "
              f"others ({total:,} messages in all)")
        print(f"  chat.erase_subject: {erase * 1000:8.0f} ms")
        print(f"  raw delete (ref.) : {raw * 1000:8.0f} ms   ratio {erase / raw:.1f}x")
        print(f"  target <= 1 s: {'met' if erase <= 1.0 else 'NOT met'}")
        with app.app_context():
            app.extensions["gdprchat"].db.engine.dispose()
        return 0  # a figure, not a test: make bench goes on either way
    finally:
        if drop:
            drop()


if __name__ == "__main__":
    sys.exit(main())
