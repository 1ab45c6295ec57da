"""Fixtures shared by the retention tests: seeding chats of a given age, table
counts, consistency checks, and purges run in child processes.

Run as a module (``python -m tests.plugins.retention MODE``), this file is that
child process: it builds an app on ``GDPRCHAT_TEST_DB_URI`` and runs a purge at
``GDPRCHAT_TEST_NOW``, saying what it does on stdout, one line per event, so the
test can act on events instead of waiting for time to pass.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from flask_gdprchat.core.models import (
    Base,
    ConsentRecord,
    Contact,
    Conversation,
    LiveSocket,
    Message,
    MessageEdit,
)

#: The clock of the retention tests: every age is counted back from here.
NOW = dt.datetime(2030, 6, 1, 12, 0, 0)
ROOT = Path(__file__).resolve().parents[2]


class Seeder:
    """Write contacts and conversations of a chosen age (inside an app context)."""

    def __init__(self, now: dt.datetime = NOW) -> None:
        self.now = now

    def contact(
        self,
        *,
        age: dt.timedelta = dt.timedelta(0),
        restricted_for: dt.timedelta | None = None,
        consents: int = 1,
        **identity: Any,
    ) -> int:
        """A contact last active ``age`` ago with ``consents`` consent records.

        ``identity`` takes ``name``, ``email``, ``phone``, ``company``, ``external_id``.
        """
        from flask_gdprchat.core.state import session

        when = self.now - age
        contact = Contact(
            created_at=when,
            last_activity_at=when,
            restricted_at=None if restricted_for is None else self.now - restricted_for,
            **identity,
        )
        db = session()
        db.add(contact)
        db.flush()
        for _ in range(consents):
            db.add(ConsentRecord(contact_id=contact.id, purpose="privacy_policy",
                                 policy_version="1", wording="I accept.", given_at=when))
        db.commit()
        return contact.id

    def conversation(
        self,
        contact_id: int,
        *,
        age: dt.timedelta,
        messages: int = 3,
        edits: int = 0,
        sockets: int = 0,
        created_age: dt.timedelta | None = None,
    ) -> int:
        """A conversation last active ``age`` ago (created ``created_age`` ago)."""
        from flask_gdprchat.core.state import session

        last = self.now - age
        created = self.now - (created_age if created_age is not None else age)
        db = session()
        conversation = Conversation(
            contact_id=contact_id,
            visitor_token_hash=uuid.uuid4().hex * 2,
            created_at=created,
            last_activity_at=last,
        )
        db.add(conversation)
        db.flush()
        for i in range(messages):
            message = Message(conversation_id=conversation.id, author="visitor",
                              text=f"message {i}", created_at=created)
            db.add(message)
            db.flush()
            if i < edits:
                db.add(MessageEdit(message_id=message.id, previous_text="before", edited_at=last))
        for i in range(sockets):
            db.add(LiveSocket(sid=f"sock-{conversation.id}-{i}", conversation_id=conversation.id,
                              connected_at=last))
        db.commit()
        return conversation.id

    def chat(
        self,
        age: dt.timedelta,
        *,
        messages: int = 3,
        restricted_for: dt.timedelta | None = None,
        **identity: Any,
    ) -> tuple[int, int]:
        """A contact with one conversation, both last active ``age`` ago."""
        contact_id = self.contact(age=age, restricted_for=restricted_for, **identity)
        return contact_id, self.conversation(contact_id, age=age, messages=messages)


@pytest.fixture
def seeder() -> Seeder:
    """``seeder.chat(age, name=...)`` etc., counted back from :data:`NOW`."""
    return Seeder()


def table_counts() -> dict[str, int]:
    """Rows in every table of ours (inside an app context)."""
    from flask_gdprchat.core.state import session

    db = session()
    return {
        table.name: db.scalar(select(func.count()).select_from(table))
        for table in Base.metadata.sorted_tables
    }


def consistency_problems() -> list[str]:
    """Rows that lost their parent: each is a half-deleted conversation or contact."""
    from flask_gdprchat.core.state import session

    checks = {
        "message without conversation": (
            "SELECT count(*) FROM gdprchat_messages m WHERE NOT EXISTS "
            "(SELECT 1 FROM gdprchat_conversations c WHERE c.id = m.conversation_id)"
        ),
        "edit without message": (
            "SELECT count(*) FROM gdprchat_message_edits e WHERE NOT EXISTS "
            "(SELECT 1 FROM gdprchat_messages m WHERE m.id = e.message_id)"
        ),
        "conversation without contact": (
            "SELECT count(*) FROM gdprchat_conversations c WHERE NOT EXISTS "
            "(SELECT 1 FROM gdprchat_contacts k WHERE k.id = c.contact_id)"
        ),
        "consent without contact": (
            "SELECT count(*) FROM gdprchat_consents r WHERE NOT EXISTS "
            "(SELECT 1 FROM gdprchat_contacts k WHERE k.id = r.contact_id)"
        ),
        "socket without conversation": (
            "SELECT count(*) FROM gdprchat_sockets s WHERE s.conversation_id IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM gdprchat_conversations c WHERE c.id = s.conversation_id)"
        ),
    }
    db = session()
    return [name for name, sql in checks.items() if db.scalar(text(sql))]


def database_uri(app: Any) -> str:
    """The app's database URL, with its password, for a child process."""
    with app.app_context():
        return app.extensions["gdprchat"].db.engine.url.render_as_string(hide_password=False)


class PurgeChild:
    """A purge in its own process, driven through stdin/stdout lines."""

    def __init__(self, mode: str, db_uri: str, *, batch_size: int, tmp_path: Path) -> None:
        env = {
            **os.environ,
            "GDPRCHAT_TEST_DB_URI": db_uri,
            "GDPRCHAT_TEST_NOW": NOW.isoformat(),
            "GDPRCHAT_TEST_BATCH": str(batch_size),
            "GDPRCHAT_TEST_INSTANCE": str(tmp_path),
        }
        # Kept open for the child's lifetime; closed when it is reaped.
        self._stderr = open(tmp_path / f"purge-child-{id(self)}.log", "w+")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.plugins.retention", mode],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )

    def expect(self, word: str) -> str:
        """Block until the child prints a line starting with ``word``; its rest."""
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith(word):
            self.proc.kill()
            self.proc.wait()
            self._stderr.seek(0)
            raise AssertionError(f"child said {line!r}, expected {word}: {self._stderr.read()}")
        return line[len(word):].strip()

    def say(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def report(self) -> dict[str, Any]:
        """The child's purge report, once it finished."""
        report = json.loads(self.expect("REPORT"))
        assert self.proc.wait(timeout=60) == 0
        return report

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        self._stderr.close()


@pytest.fixture
def purge_child(tmp_path: Path) -> Iterator[Any]:
    """``purge_child(mode, db_uri, batch_size=)`` starts a purge process (see below)."""
    children: list[PurgeChild] = []

    def start(mode: str, db_uri: str, *, batch_size: int = 10) -> PurgeChild:
        child = PurgeChild(mode, db_uri, batch_size=batch_size, tmp_path=tmp_path)
        children.append(child)
        return child

    yield start
    for child in children:
        child.close()


# -- the child process ---------------------------------------------------------------------


def _child(mode: str) -> None:
    """``race``: READY, wait for GO, purge, REPORT. ``kill``: purge, saying COMMITTED
    after the first batch and INSIDE from the middle of the second, then hang there."""
    from flask import Flask
    from sqlalchemy import event

    from flask_gdprchat import GDPRChat
    from flask_gdprchat.core.state import state
    from flask_gdprchat.retention.purge import purge_expired

    app = Flask("gdprchat_purge_child", instance_path=os.environ["GDPRCHAT_TEST_INSTANCE"])
    app.config.update(
        SECRET_KEY="test-secret",
        SQLALCHEMY_DATABASE_URI=os.environ["GDPRCHAT_TEST_DB_URI"],
        GDPRCHAT_SCHEDULER=False,
    )
    GDPRChat(app)
    now = dt.datetime.fromisoformat(os.environ["GDPRCHAT_TEST_NOW"])
    batch = int(os.environ["GDPRCHAT_TEST_BATCH"])
    with app.app_context():
        committed = []

        def after_batch(_report: Any) -> None:
            committed.append(1)
            if len(committed) == 1:
                print("COMMITTED", flush=True)

        if mode == "race":
            with state.db.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")  # connected before the start line
            print("READY", flush=True)
            if sys.stdin.readline().strip() != "GO":
                raise SystemExit("no GO")
            report = purge_expired(now, batch_size=batch)
        elif mode == "kill":

            def hang_inside_second_batch(_conn: Any, _cursor: Any, statement: str,
                                         *_args: Any) -> None:
                # Messages are deleted (alone, or in PostgreSQL's one combined
                # statement) but the batch is not committed yet.
                if committed and "DELETE FROM GDPRCHAT_MESSAGES" in statement.upper():
                    print("INSIDE", flush=True)
                    sys.stdin.readline()  # the test kills us here, mid-transaction

            event.listen(state.db.engine, "after_cursor_execute", hang_inside_second_batch)
            report = purge_expired(now, batch_size=batch, on_batch=after_batch)
        else:
            raise SystemExit(f"unknown mode {mode}")
        print("REPORT " + json.dumps(report.as_dict()), flush=True)


if __name__ == "__main__":
    _child(sys.argv[1])
