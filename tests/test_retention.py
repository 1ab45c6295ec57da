"""The retention rules: what a purge keeps and what it removes, at every boundary."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from flask_gdprchat.core import sealing, signals
from flask_gdprchat.core.models import (
    Agent,
    AuditEvent,
    Contact,
    Conversation,
    LiveSocket,
    Message,
    OutboundMail,
    SubjectRequest,
    Throttle,
)
from flask_gdprchat.core.settings import save_settings
from flask_gdprchat.core.state import session
from flask_gdprchat.retention.purge import RULES, SOCKET_MAX_AGE, purge_expired
from tests.plugins.retention import NOW, Seeder, consistency_problems, table_counts

DAY = dt.timedelta(days=1)
SECOND = dt.timedelta(seconds=1)


def exists(model: Any, id_: int) -> bool:
    return session().get(model, id_) is not None


def messages_of(conversation_id: int) -> int:
    return session().scalar(
        select(func.count()).select_from(Message).where(Message.conversation_id == conversation_id)
    )


# -- anonymous conversations -----------------------------------------------------------------


def test_anonymous_chat_goes_one_second_after_its_retention(make_app: Any, backend: str) -> None:
    app = make_app(backend)
    with app.app_context():
        seed = Seeder()
        limit = 270 * DAY
        before = seed.chat(limit - SECOND)
        at = seed.chat(limit)
        after = seed.chat(limit + SECOND)

        report = purge_expired(NOW)

        assert exists(Contact, before[0]) and exists(Conversation, before[1])
        assert exists(Contact, at[0]) and exists(Conversation, at[1])
        assert messages_of(at[1]) == 3
        assert not exists(Contact, after[0]) and not exists(Conversation, after[1])
        assert messages_of(after[1]) == 0
        assert report.rules == {"expired_contacts": 1}
        assert report.counts == {
            "contacts": 1, "conversations": 1, "messages": 3, "consent_records": 1,
        }
        assert consistency_problems() == []


def test_age_counts_from_last_activity_not_creation(make_app: Any) -> None:
    app = make_app()
    with app.app_context():
        seed = Seeder()
        contact = seed.contact(age=10 * DAY)
        conversation = seed.conversation(contact, age=10 * DAY, created_age=400 * DAY)

        purge_expired(NOW)

        assert exists(Conversation, conversation)


def test_empty_strings_count_as_anonymous(make_app: Any) -> None:
    app = make_app()
    with app.app_context():
        contact, _ = Seeder().chat(300 * DAY, name="", email="", phone="", company="")
        purge_expired(NOW)
        assert not exists(Contact, contact)


# -- identified contacts ---------------------------------------------------------------------

IDENTITIES = [
    {"name": "Ann"},
    {"email": "ann@example.test"},
    {"phone": "+33 1 23 45 67 89"},
    {"company": "Acme"},
]


def test_identified_chats_are_kept_while_identified_retention_is_none(
    make_app: Any, backend: str
) -> None:
    app = make_app(backend)
    with app.app_context():
        seed = Seeder()
        kept = [seed.chat(3000 * DAY, **identity) for identity in IDENTITIES]
        anonymous = seed.chat(3000 * DAY)

        purge_expired(NOW)

        for contact, conversation in kept:
            assert exists(Contact, contact) and exists(Conversation, conversation)
        assert not exists(Contact, anonymous[0])


@pytest.mark.parametrize("identity", IDENTITIES, ids=lambda i: next(iter(i)))
def test_identified_chat_goes_one_second_after_identified_retention(
    make_app: Any, backend: str, identity: dict[str, str]
) -> None:
    app = make_app(backend, GDPRCHAT_IDENTIFIED_RETENTION_DAYS=30)
    with app.app_context():
        seed = Seeder()
        before = seed.chat(30 * DAY - SECOND, **identity)
        at = seed.chat(30 * DAY, **identity)
        after = seed.chat(30 * DAY + SECOND, **identity)
        # The anonymous limit (270 days) does not apply to identified contacts.
        assert 30 * DAY + SECOND < 270 * DAY

        report = purge_expired(NOW)

        assert exists(Contact, before[0]) and exists(Contact, at[0])
        assert exists(Conversation, at[1])
        assert not exists(Contact, after[0]) and not exists(Conversation, after[1])
        assert report.rules == {"expired_contacts": 1}


def test_identified_contact_with_a_recent_chat_loses_only_its_old_chat(make_app: Any) -> None:
    app = make_app(GDPRCHAT_IDENTIFIED_RETENTION_DAYS=30)
    with app.app_context():
        seed = Seeder()
        contact = seed.contact(age=DAY, external_id="user-7", email="u7@example.test")
        old = seed.conversation(contact, age=31 * DAY, messages=4, edits=2, sockets=1)
        recent = seed.conversation(contact, age=DAY)

        report = purge_expired(NOW)

        assert exists(Contact, contact) and exists(Conversation, recent)
        assert not exists(Conversation, old) and messages_of(old) == 0
        assert report.rules == {"expired_conversations": 1}
        assert report.counts == {
            "conversations": 1, "messages": 4, "message_edits": 2, "sockets": 1,
        }
        assert consistency_problems() == []


def test_identified_contact_whose_chats_all_expired_goes_with_its_consents(
    make_app: Any,
) -> None:
    app = make_app(GDPRCHAT_IDENTIFIED_RETENTION_DAYS=30)
    with app.app_context():
        seed = Seeder()
        contact = seed.contact(age=40 * DAY, email="gone@example.test", consents=2)
        seed.conversation(contact, age=40 * DAY)
        seed.conversation(contact, age=50 * DAY)
        session().add(OutboundMail(contact_id=contact, to_address="gone@example.test",
                                   subject="s", body_text="b", created_at=NOW - DAY))
        session().commit()

        report = purge_expired(NOW)

        assert not exists(Contact, contact)
        assert report.counts["consent_records"] == 2
        assert report.counts["conversations"] == 2
        assert report.counts["pending_mail"] == 1
        assert table_counts()["gdprchat_consents"] == 0


# -- restricted subjects ---------------------------------------------------------------------


def test_restricted_subject_is_frozen_within_grace_and_removed_after(
    make_app: Any, backend: str
) -> None:
    app = make_app(backend)
    with app.app_context():
        seed = Seeder()
        grace = 183 * DAY
        # Old anonymous chats would expire, but restriction freezes them.
        before = seed.chat(1000 * DAY, restricted_for=grace - SECOND)
        at = seed.chat(1000 * DAY, restricted_for=grace)
        after = seed.chat(10 * DAY, email="r@example.test", restricted_for=grace + SECOND)

        report = purge_expired(NOW)

        assert exists(Contact, before[0]) and exists(Conversation, before[1])
        assert exists(Contact, at[0]) and exists(Conversation, at[1])
        assert not exists(Contact, after[0]) and not exists(Conversation, after[1])
        assert report.rules == {"restricted_subjects": 1}
        assert report.counts["consent_records"] == 1


# -- settings saved in the dashboard ---------------------------------------------------------


def test_retention_saved_in_the_dashboard_takes_effect(make_app: Any, backend: str) -> None:
    app = make_app(backend)
    with app.app_context():
        seed = Seeder()
        anonymous_kept = seed.chat(29 * DAY)
        anonymous_gone = seed.chat(31 * DAY)
        identified_kept = seed.chat(9 * DAY, name="Bo")
        identified_gone = seed.chat(11 * DAY, name="Cy")
        restricted_gone = seed.chat(DAY, restricted_for=3 * DAY)

        assert purge_expired(NOW, dry_run=True).total() == 0
        save_settings({
            "ANONYMOUS_RETENTION_DAYS": 30,
            "IDENTIFIED_RETENTION_DAYS": 10,
            "RESTRICTED_GRACE_DAYS": 2,
        })
        purge_expired(NOW)

        assert exists(Contact, anonymous_kept[0]) and exists(Contact, identified_kept[0])
        for gone in (anonymous_gone, identified_gone, restricted_gone):
            assert not exists(Contact, gone[0])


# -- the other things kept only for a while --------------------------------------------------


def test_sweeps_throttle_sockets_and_stuck_mail_but_keep_requests_and_audit(
    make_app: Any, backend: str
) -> None:
    app = make_app(backend)
    with app.app_context():
        db = session()
        contact, conversation = Seeder().chat(DAY, email="kept@example.test")
        db.add_all([
            Throttle(key="a" * 64, at=NOW - DAY - SECOND),
            Throttle(key="b" * 64, at=NOW - DAY + SECOND),
            LiveSocket(sid="dead", agent_id=None, connected_at=NOW - SOCKET_MAX_AGE - SECOND),
            LiveSocket(sid="live", conversation_id=conversation,
                       connected_at=NOW - SOCKET_MAX_AGE + SECOND),
            OutboundMail(contact_id=contact, to_address="kept@example.test", subject="s",
                         body_text="b", created_at=NOW - 7 * DAY - SECOND),
            OutboundMail(contact_id=None, to_address="x@example.test", subject="s",
                         body_text="b", created_at=NOW - 7 * DAY + SECOND),
            SubjectRequest(kind="erase", channel="subject", received_at=NOW - 3000 * DAY,
                           due_at=NOW - 2970 * DAY, fulfilled_at=NOW - 2999 * DAY,
                           status="fulfilled"),
        ])
        db.commit()
        audit_before = db.scalar(select(func.count()).select_from(AuditEvent))

        report = purge_expired(NOW)

        assert report.rules == {"stuck_mail": 1, "stale_sockets": 1, "expired_throttle": 1}
        assert [t.key[0] for t in db.scalars(select(Throttle))] == ["b"]
        assert [s.sid for s in db.scalars(select(LiveSocket))] == ["live"]
        assert [m.to_address for m in db.scalars(select(OutboundMail))] == ["x@example.test"]
        assert db.scalar(select(func.count()).select_from(SubjectRequest)) == 1
        assert exists(Contact, contact)
        # Earlier events stay; the purge adds its own.
        assert db.scalar(select(func.count()).select_from(AuditEvent)) == audit_before + 1


# -- dry run, audit, signal, batches ---------------------------------------------------------


def _mixed_data(seed: Seeder) -> None:
    """Every rule has work, and some rows are claimed by two rules' conditions."""
    db = session()
    for _ in range(4):
        seed.chat(300 * DAY, messages=5)
    gone, gone_conversation = seed.chat(300 * DAY)
    db.add(LiveSocket(sid="old-on-expired", conversation_id=gone_conversation,
                      connected_at=NOW - 300 * DAY))
    db.add(OutboundMail(contact_id=gone, to_address="a@example.test", subject="s",
                        body_text="b", created_at=NOW - 300 * DAY))
    seed.chat(1000 * DAY, restricted_for=200 * DAY, email="r@example.test")
    seed.chat(1000 * DAY, restricted_for=20 * DAY)
    user = seed.contact(age=DAY, external_id="u1", name="U")
    seed.conversation(user, age=400 * DAY, messages=2, edits=1, sockets=2)
    seed.conversation(user, age=DAY)
    for _ in range(3):
        seed.chat(10 * DAY)
    db.add_all([Throttle(key=f"{i}" * 64, at=NOW - 5 * DAY) for i in range(3)])
    db.add(LiveSocket(sid="agent-gone", connected_at=NOW - 40 * DAY))
    db.add(OutboundMail(to_address="b@example.test", subject="s", body_text="b",
                        created_at=NOW - 30 * DAY))
    # Erased after this copy was taken: its key is gone, its rows came back.
    restored, _ = seed.chat(DAY, email="erased@example.test")
    member = Agent(email="erased@team.test", full_name="Erased Member", first_name="Erased",
                   display_name="Erased M.", password_hash="not-a-hash")
    db.add(member)
    db.commit()
    sealing.destroy_contact_keys([restored])
    sealing.destroy_agent_keys([member.id])


def test_dry_run_removes_nothing_and_reports_what_a_run_removes(
    make_app: Any, backend: str
) -> None:
    app = make_app(backend, GDPRCHAT_IDENTIFIED_RETENTION_DAYS=100)
    with app.app_context():
        _mixed_data(Seeder())
        before = table_counts()

        dry = purge_expired(NOW, dry_run=True, batch_size=7)

        assert table_counts() == before
        assert dry.dry_run and dry.total() > 0
        real = purge_expired(NOW, batch_size=7)
        after = table_counts()

        assert real.counts == dry.counts
        assert real.rules == dry.rules
        assert set(dry.rules) == set(RULES)
        removed = {
            "contacts": "gdprchat_contacts", "conversations": "gdprchat_conversations",
            "messages": "gdprchat_messages", "message_edits": "gdprchat_message_edits",
            "consent_records": "gdprchat_consents", "sockets": "gdprchat_sockets",
            "pending_mail": "gdprchat_outbox", "throttle_entries": "gdprchat_throttle",
        }
        for kind, table in removed.items():
            assert before[table] - after[table] == dry.counts.get(kind, 0), kind
        assert purge_expired(NOW, dry_run=True).total() == 0
        assert consistency_problems() == []


def test_a_purge_is_audited_with_counts_and_announced(make_app: Any, listen_to: Any) -> None:
    app = make_app()
    with app.app_context():
        Seeder().chat(300 * DAY, email="secret@example.test", name="Secret Name")
        save_settings({"IDENTIFIED_RETENTION_DAYS": 100})
        with listen_to(signals.purge_completed) as sent:
            report = purge_expired(NOW, actor="cli")
            purge_expired(NOW, dry_run=True)

        assert [s["report"] for s in sent] == [report]
        assert sent[0]["sender"] is app
        event = session().scalars(
            select(AuditEvent).where(AuditEvent.event == "retention_purge")
        ).one()
        assert event.actor == "cli"
        assert event.details == {"counts": report.counts}
        assert all(isinstance(v, int) for v in event.details["counts"].values())
        assert "secret" not in str(event.details).lower()


def test_batches_hold_whole_contacts_within_the_batch_size(make_app: Any) -> None:
    app = make_app()
    with app.app_context():
        seed = Seeder()
        for _ in range(20):
            seed.chat(300 * DAY, messages=3)  # 1 contact + 1 conversation + 3 messages
        progress: list[int] = []

        report = purge_expired(
            NOW, batch_size=10, on_batch=lambda r: progress.append(r.counts["contacts"])
        )

        assert report.rules == {"expired_contacts": 20}
        assert report.batches == 10
        assert progress == list(range(2, 21, 2))
        assert 0 < report.longest_batch_seconds <= report.duration_seconds
        assert "20 expired contacts" in report.summary()


def test_a_chat_bigger_than_a_batch_still_goes_whole(make_app: Any) -> None:
    app = make_app()
    with app.app_context():
        _, conversation = Seeder().chat(300 * DAY, messages=30)
        report = purge_expired(NOW, batch_size=5)
        assert report.batches == 1
        assert report.counts["messages"] == 30
        assert not exists(Conversation, conversation)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"batch_size": 0}, "batch size"),
        ({"batch_size": True}, "batch size"),
        ({"now": "2030-01-01"}, "now must be a datetime"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_removed(
    make_app: Any, kwargs: dict[str, Any], message: str
) -> None:
    app = make_app()
    with app.app_context():
        Seeder().chat(300 * DAY)
        before = table_counts()
        with pytest.raises(ValueError, match=message):
            purge_expired(**{"now": NOW, **kwargs})
        assert table_counts() == before


def test_an_aware_now_is_read_as_utc(make_app: Any) -> None:
    app = make_app()
    with app.app_context():
        contact, _ = Seeder().chat(270 * DAY + 30 * dt.timedelta(minutes=1))
        paris = dt.timezone(dt.timedelta(hours=2))
        # The same instant as NOW, written in another zone.
        report = purge_expired(NOW.replace(tzinfo=dt.timezone.utc).astimezone(paris))
        assert report.now == NOW
        assert not exists(Contact, contact)


# -- the command line ------------------------------------------------------------------------


def test_purge_command_dry_run_then_real_run(make_app: Any) -> None:
    app = make_app()
    with app.app_context():
        seed = Seeder(now=_real_now())
        expired, _ = seed.chat(300 * DAY, messages=2)
        kept, _ = seed.chat(DAY)
    runner = app.test_cli_runner()

    dry = runner.invoke(args=["gdprchat", "purge", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "Would remove:" in dry.output
    assert "1 expired contacts" in dry.output and "messages: 2" in dry.output
    with app.app_context():
        assert exists(Contact, expired)

    real = runner.invoke(args=["gdprchat", "purge"])
    assert real.exit_code == 0, real.output
    assert "Removed:" in real.output and "messages: 2" in real.output
    with app.app_context():
        assert not exists(Contact, expired) and exists(Contact, kept)
        assert session().scalars(
            select(AuditEvent.actor).where(AuditEvent.event == "retention_purge")
        ).all() == ["cli"]

    again = runner.invoke(args=["gdprchat", "purge"])
    assert again.exit_code == 0 and "Nothing was purged." in again.output


def test_purge_command_without_tables_fails_in_one_line(make_app: Any) -> None:
    app = make_app(init=False)
    result = app.test_cli_runner().invoke(args=["gdprchat", "purge"])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: database error")
    assert "Traceback" not in result.output


def _real_now() -> dt.datetime:
    from flask_gdprchat.core.clock import utcnow

    return utcnow()
