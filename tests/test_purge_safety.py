"""Purges under pressure: two processes at once, and a process killed mid-purge."""
from __future__ import annotations

import datetime as dt
import signal
from typing import Any

from sqlalchemy import func, select, text

from flask_gdprchat.core.models import Contact, Conversation, Message
from flask_gdprchat.core.settings import save_settings
from flask_gdprchat.core.state import session, state
from flask_gdprchat.retention.purge import purge_expired
from tests.plugins.retention import NOW, Seeder, consistency_problems, database_uri, table_counts

DAY = dt.timedelta(days=1)


def _seed(expired: int, kept: int, messages: int) -> tuple[set[int], set[int]]:
    seed = Seeder()
    gone = {seed.chat(300 * DAY, messages=messages)[1] for _ in range(expired)}
    stay = {seed.chat(DAY, messages=messages)[1] for _ in range(kept)}
    # An identified contact whose old chat goes and whose recent chat stays.
    user = seed.contact(age=DAY, external_id="u", email="u@example.test")
    gone.add(seed.conversation(user, age=400 * DAY, messages=messages))
    stay.add(seed.conversation(user, age=DAY, messages=messages))
    return gone, stay


def _conversation_sizes() -> dict[int, int]:
    rows = session().execute(
        select(Conversation.id, func.count(Message.id))
        .outerjoin(Message, Message.conversation_id == Conversation.id)
        .group_by(Conversation.id)
    )
    return dict(rows.all())


def test_two_processes_purging_at_once_remove_each_row_once(
    make_app: Any, backend: str, purge_child: Any
) -> None:
    app = make_app(backend)
    with app.app_context():
        # Saved, not configured: the child processes read it from the database.
        save_settings({"IDENTIFIED_RETENTION_DAYS": 30})
        gone, stay = _seed(expired=60, kept=10, messages=3)
        expected = purge_expired(NOW, dry_run=True)
        before = table_counts()
        uri = database_uri(app)

    children = [purge_child("race", uri, batch_size=8) for _ in range(2)]
    for child in children:
        child.expect("READY")
    for child in children:  # both are connected and waiting: start them together
        child.say("GO")
    reports = [child.report() for child in children]

    summed: dict[str, int] = {}
    for report in reports:
        for kind, n in report["counts"].items():
            summed[kind] = summed.get(kind, 0) + n
    assert summed == expected.counts
    with app.app_context():
        after = table_counts()
        assert before["gdprchat_messages"] - after["gdprchat_messages"] == summed["messages"]
        assert set(_conversation_sizes()) == stay
        assert consistency_problems() == []
        assert purge_expired(NOW, dry_run=True).total() == 0


def test_a_purge_killed_mid_batch_leaves_whole_conversations_and_the_next_run_finishes(
    make_app: Any, backend: str, purge_child: Any
) -> None:
    app = make_app(backend)
    with app.app_context():
        # Saved, not configured: the child processes read it from the database.
        save_settings({"IDENTIFIED_RETENTION_DAYS": 30})
        gone, stay = _seed(expired=30, kept=5, messages=4)
        uri = database_uri(app)

    child = purge_child("kill", uri, batch_size=14)  # two whole chats per batch
    child.expect("COMMITTED")  # the first batch is in the database
    child.expect("INSIDE")  # the second batch has deleted some rows, uncommitted
    child.proc.send_signal(signal.SIGKILL)
    assert child.proc.wait(timeout=30) == -signal.SIGKILL

    with app.app_context():
        if backend == "postgres":
            # Wait (on an event, not a clock) until the server has rolled the
            # dead process's transaction back and freed its row locks.
            with state.db.engine.connect() as connection:
                connection.execute(text("SELECT id FROM gdprchat_contacts FOR UPDATE"))
                connection.rollback()
        sizes = _conversation_sizes()
        assert consistency_problems() == []
        # Every conversation still there has all its messages: none is half gone.
        assert set(sizes.values()) == {4}
        assert stay <= set(sizes)
        left = gone & set(sizes)
        assert 0 < len(left) <= len(gone) - 2  # the first batch went, the rest waits

        report = purge_expired(NOW)

        assert report.rules["expired_contacts"] + report.rules.get(
            "expired_conversations", 0) == len(left)
        assert set(_conversation_sizes()) == stay
        assert consistency_problems() == []
        assert session().scalar(select(func.count()).select_from(Contact)) == len(stay)
