"""Encryption at rest: sealed values, blind indexes, and erasure that survives backups."""
from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from flask_gdprchat.core import sealing
from flask_gdprchat.core.database import database_files
from flask_gdprchat.core.keystore import keystore
from flask_gdprchat.core.models import (
    ConsentRecord,
    Contact,
    Conversation,
    Message,
    MessageEdit,
)
from flask_gdprchat.core.state import session
from flask_gdprchat.core.subjects import contacts_for_email, email_is
from flask_gdprchat.rights.rectification import rectify
from tests.plugins.rights import files_holding

CANARIES = {
    "name": "Quintessa Marlowe-Vex",
    "email": "quintessa.vex@canary.test",
    "company": "Vexmarrow Holdings",
    "phone": "+351 912 000 777",
}
MESSAGE = "my parcel code is CANARY-7731-ZEBRA"
REPLY = "Thanks, checking CANARY-REPLY-4410 now"
EDITED = "Thanks, checking CANARY-REPLY-4411 now"
RENAMED = "Quintessa Renamed-Canary"


def _data_files(app: Any) -> list[Path]:
    with app.app_context():
        return list(database_files())


def _key_files(app: Any) -> list[str]:
    with app.app_context():
        return keystore().files()


def _canaries() -> list[str]:
    return [*CANARIES.values(), MESSAGE, REPLY, EDITED, RENAMED]


def _plain_anywhere(app: Any) -> dict[str, list[str]]:
    files = [*_data_files(app), *_key_files(app)]
    return files_holding(files, _canaries())


def _full_chat(app: Any, chat_server: Any, chat_visitor: Any, chat_agent: Any) -> dict[str, Any]:
    """A visitor with canary values chats, an agent replies and edits; each step is scanned."""
    chat, visitor = chat_visitor(chat_server.url, **CANARIES)
    assert _plain_anywhere(app) == {}
    cid = chat["conversation_id"]
    agent = chat_agent(chat_server.url)
    sent = visitor.call("send_message", {"conversation_id": cid, "text": MESSAGE})
    assert sent["ok"] is True and sent["message"]["text"] == MESSAGE
    assert _plain_anywhere(app) == {}
    reply = agent.call("send_message", {"conversation_id": cid, "text": REPLY})["message"]
    assert agent.call("edit_message", {"message_id": reply["id"], "text": EDITED})["ok"] is True
    assert _plain_anywhere(app) == {}
    return {"conversation_id": cid, "visitor": visitor, "agent": agent, "reply_id": reply["id"]}


def _backup(app: Any, to: Path) -> None:
    """A backup as an operator takes one: SQLite's online backup of the live file."""
    [live] = [p for p in _data_files(app) if str(p).endswith(".sqlite3")]
    source, target = sqlite3.connect(live), sqlite3.connect(to)
    with target:
        source.backup(target)
    source.close()
    target.close()


def _restore(app: Any, backup: Path) -> None:
    """Put the backup in place of the live database, as after a disaster."""
    with app.app_context():
        app.extensions["gdprchat"].db.engine.dispose()
        live = next(p for p in database_files() if str(p).endswith(".sqlite3"))
    for extra in ("-wal", "-shm", "-journal"):
        Path(str(live) + extra).unlink(missing_ok=True)
    shutil.copyfile(backup, live)


def test_a_restored_backup_brings_back_nothing_of_an_erased_subject(
        app, chat_server, chat_visitor, chat_agent, tmp_path):
    chat = _full_chat(app, chat_server, chat_visitor, chat_agent)
    cid = chat["conversation_id"]
    with app.app_context():
        contact = contacts_for_email(CANARIES["email"])[0]
        contact_id, digest = contact.id, contact.email_index
        # The console, the ORM and exports see the values; the files do not.
        assert contact.name == CANARIES["name"] and contact.phone == CANARIES["phone"]
        texts = [m.text for m in session().scalars(select(Message).order_by(Message.id))]
        assert texts == [MESSAGE, EDITED]
        assert [e.previous_text for e in session().scalars(select(MessageEdit))] == [REPLY]
        rectify([contact], {"name": RENAMED}, channel="agent")
        session().commit()
    assert _plain_anywhere(app) == {}
    restricted = app.extensions["gdprchat"].chat
    with app.app_context():
        assert restricted.restrict_subject(CANARIES["email"]) is True
        assert restricted.unrestrict_subject(CANARIES["email"]) is True
    assert _plain_anywhere(app) == {}
    with app.app_context():
        exported = restricted.export_subject(CANARIES["email"]).decode()
    assert RENAMED in exported and MESSAGE in exported and REPLY in exported

    backup = tmp_path / "last-week.sqlite3"
    _backup(app, backup)
    assert files_holding([backup], _canaries()) == {}
    with app.app_context():
        assert restricted.erase_subject(CANARIES["email"]) is True
        assert keystore().existing_key("contact", contact_id) is None
    _restore(app, backup)

    runner = app.test_cli_runner()
    with app.app_context():
        # Restored, before any purge: the rows are back, but nothing opens them.
        back = session().get(Contact, contact_id)
        assert back is not None and back.email_index == digest
        assert (back.name, back.email, back.phone, back.company) == (None, None, None, None)
        assert {m.text for m in session().scalars(select(Message))} == {""}
        session().rollback()
    purge = runner.invoke(args=["gdprchat", "purge"])
    assert purge.exit_code == 0, purge.output
    assert "contacts: 1" in purge.output and "messages: 2" in purge.output
    with app.app_context():
        for model in (Contact, Conversation, Message, MessageEdit, ConsentRecord):
            assert session().scalar(select(sa.func.count()).select_from(model)) == 0, model
        assert session().scalar(select(Contact.id).where(email_is(CANARIES["email"]))) is None
        assert restricted.erase_subject(CANARIES["email"]) is False  # nothing is held
    verify = runner.invoke(args=["gdprchat", "verify-erasure", CANARIES["email"]])
    assert verify.exit_code == 0, verify.output
    exported = runner.invoke(args=["gdprchat", "export", CANARIES["email"]])
    assert not [c for c in _canaries() if c.lower() in exported.output.lower()]
    files = [*_data_files(app), *_key_files(app)]
    assert files_holding(files, [*_canaries(), digest]) == {}
    # The conversation is gone for the visitor too.
    with app.test_client() as client:
        page = client.get(f"/gdprchat/api/conversations/{cid}/messages")
        assert page.status_code in (401, 403, 404)


MEMBER = {"email": "ottoline.brisk@canary-team.test", "name": "Ottoline Briskwater",
          "display_name": "Otto Brisk."}
MEMBER_PASSWORD = "a long enough password"


def test_a_team_member_is_sealed_under_its_own_key_and_a_restored_copy_is_erased_again(
        app, tmp_path):
    from flask_gdprchat.core.agent_names import public_names
    from flask_gdprchat.core.identity import authenticate
    from flask_gdprchat.core.models import Agent
    from flask_gdprchat.team.agents import create_agent, delete_agent

    canaries = [MEMBER["email"], "Briskwater", MEMBER["display_name"]]
    with app.app_context():
        member = create_agent(MEMBER["email"], MEMBER["name"], MEMBER_PASSWORD,
                              display_name=MEMBER["display_name"], actor="test")
        session().commit()
        member_id = member.id
    assert files_holding([*_data_files(app), *_key_files(app)], canaries) == {}
    with app.app_context():
        # Signing in (any spelling of the address) and the name visitors see both work.
        assert authenticate(MEMBER["email"].upper(), MEMBER_PASSWORD).id == member_id
        assert public_names([member_id]) == {member_id: MEMBER["display_name"]}
        session().commit()
    backup = tmp_path / "before-the-leaver.sqlite3"
    _backup(app, backup)
    with app.app_context():
        delete_agent(member_id, purge=False, actor="test")
    _restore(app, backup)

    with app.app_context():
        back = session().get(Agent, member_id)
        assert back.deleted_at is None and back.email_index is not None  # as the copy held it
        assert (back.email, back.full_name, back.display_name, back.password_hash) == (None,) * 4
        assert authenticate(MEMBER["email"], MEMBER_PASSWORD) is None
        session().rollback()
    purge = app.test_cli_runner().invoke(args=["gdprchat", "purge"])
    assert purge.exit_code == 0, purge.output
    assert "1 team members erased again" in purge.output
    with app.app_context():
        back = session().get(Agent, member_id)
        assert back.deleted_at is not None and not back.is_active and back.permissions == ""
        twins = session().execute(select(
            Agent.__table__.c.email_sealed, Agent.__table__.c.full_name_sealed,
            Agent.__table__.c.display_name_sealed, Agent.__table__.c.password_hash_sealed,
            Agent.__table__.c.email_index).where(Agent.__table__.c.id == member_id)).one()
        assert tuple(twins) == (None,) * 5
        assert public_names([member_id]) == {member_id: "Otto"}  # the first name stays
    again = app.test_cli_runner().invoke(args=["gdprchat", "purge", "--dry-run"])
    assert "team members" not in again.output


def test_a_team_member_stored_before_encryption_signs_in_before_and_after_sealing(app):
    from flask_gdprchat.core.identity import authenticate
    from flask_gdprchat.core.models import Agent
    from flask_gdprchat.core.passwords import hash_password

    agents = Agent.__table__
    with app.app_context():
        db = session()
        member_id = db.execute(sa.insert(agents).values(
            email="legacy.member@plain.test", full_name="Legacy Member", first_name="Legacy",
            display_name="Legacy M.", password_hash=hash_password(MEMBER_PASSWORD),
            permissions="send_messages", is_admin=False, is_active=True, session_epoch=0,
            presence="online", created_at=sa.func.now())).inserted_primary_key[0]
        db.commit()
        assert authenticate("Legacy.Member@plain.test", MEMBER_PASSWORD).id == member_id
        db.commit()

        assert sealing.seal_existing() == 1
        row = db.execute(select(agents.c.email, agents.c.full_name, agents.c.password_hash,
                                agents.c.email_sealed, agents.c.email_index)
                         .where(agents.c.id == member_id)).one()
        assert row[:3] == (None, None, None)
        assert row.email_sealed is not None and row.email_index is not None
        signed_in = authenticate("legacy.member@plain.test", MEMBER_PASSWORD)
        assert signed_in is not None and signed_in.full_name == "Legacy Member"


def test_values_are_sealed_under_the_row_they_belong_to(app, make_subject):
    subject = make_subject(app)
    with app.app_context():
        first, second = session().scalars(select(Message).order_by(Message.id).limit(2)).all()
        blob = first.text_sealed
        assert blob is not None and first.text == subject.visitor_texts[0]
        # Moved onto another row, the ciphertext does not open: shown as nothing.
        session().execute(sa.update(Message.__table__).where(Message.id == second.id)
                          .values(text_sealed=blob))
        session().commit()
        session().expire_all()
        assert session().get(Message, second.id).text == ""
        assert session().get(Message, first.id).text == subject.visitor_texts[0]


def test_the_blind_index_finds_every_spelling_and_keeps_ids_apart(app, make_subject):
    subject = make_subject(app)
    with app.app_context():
        assert [c.id for c in contacts_for_email(subject.email.upper())] == [subject.contact_id]
        contact = session().get(Contact, subject.contact_id)
        assert contact.email is not None and session().scalar(
            select(Contact.email.__clause_element__())) in (None, "")  # type: ignore[attr-defined]
        digest = sealing.blind_index(subject.email, "email")
        assert contact.email_index == digest
        assert sealing.blind_index(subject.email, "external_id") != digest


def test_values_stored_before_encryption_are_sealed_in_resumable_batches(app, tmp_path):
    with app.app_context():
        db = session()
        ids = []
        for i in range(5):
            ids.append(db.execute(sa.insert(Contact.__table__).values(
                name=f"Legacy Person {i}", email=f"legacy{i}@plain.test",
                created_at=sa.func.now(), last_activity_at=sa.func.now(),
                marketing_consent=False, link_epoch=0)).inserted_primary_key[0])
        db.execute(sa.insert(Conversation.__table__).values(
            contact_id=ids[0], visitor_token_hash="x" * 64, status="open",
            created_at=sa.func.now(), last_activity_at=sa.func.now(), unread_count=0,
            offline=False))
        cid = db.scalar(select(Conversation.id))
        db.execute(sa.insert(Message.__table__).values(
            conversation_id=cid, author="visitor", text="legacy plain words",
            created_at=sa.func.now()))
        db.commit()
        # Interrupted after two rows: what was sealed stays sealed, the rest is found next time.
        assert sealing.seal_existing(2, limit=2) == 2
        plain = db.scalars(select(Contact.id).where(Contact.email_sealed.is_(None))).all()
        assert len(plain) == 3
        assert [c.id for c in contacts_for_email("legacy4@plain.test")] == [ids[4]]  # still found
    result = app.test_cli_runner().invoke(args=["gdprchat", "seal-existing", "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    assert "Sealed 4 rows" in result.output
    again = app.test_cli_runner().invoke(args=["gdprchat", "seal-existing"])
    assert "Sealed 0 rows" in again.output
    with app.app_context():
        rows = session().execute(select(Contact.__table__.c.name, Contact.__table__.c.email)).all()
        assert all(name is None and email is None for name, email in rows)
        assert [c.name for c in contacts_for_email("LEGACY3@plain.test")] == ["Legacy Person 3"]
        assert session().scalar(select(Message.__table__.c.text)) == ""
        assert session().scalars(select(Message)).one().text == "legacy plain words"


def test_sealing_passes_over_legacy_rows_of_an_erased_subject_and_the_purge_takes_them(app):
    """A backup from before the upgrade, restored after an erasure: the erased
    subject's plain rows are back, and no key may ever be made for them."""
    from flask_gdprchat.retention.purge import purge_expired

    with app.app_context():
        db = session()
        ids = [db.execute(sa.insert(Contact.__table__).values(
            name=f"Legacy Person {i}", email=f"legacy{i}@plain.test",
            created_at=sa.func.now(), last_activity_at=sa.func.now(),
            marketing_consent=False, link_epoch=0)).inserted_primary_key[0] for i in range(2)]
        db.commit()
        erased, kept = ids
        sealing.destroy_contact_keys([erased])

        assert sealing.seal_existing(1) == 1  # the kept one; the erased one is passed over
        assert keystore().existing_key("contact", erased) is None  # no key made for it
        rows = dict(db.execute(select(Contact.__table__.c.id, Contact.__table__.c.name)).all())
        assert rows == {erased: "Legacy Person 0", kept: None}

        report = purge_expired()
        assert report.rules.get("unreadable_contacts") == 1
        assert db.scalars(select(Contact.id)).all() == [kept]
        assert [c.id for c in contacts_for_email("legacy1@plain.test")] == [kept]
        assert sealing.seal_existing() == 0


def test_a_reused_id_is_another_subject_with_a_key_of_its_own(app):
    import datetime as dt

    with app.app_context():
        store = keystore()
        old = store.data_key("contact", 77)
        store.destroy_key("contact", 77)
        with pytest.raises(LookupError):
            store.data_key("contact", 77)  # the erased subject never gets a key again
        born = dt.datetime.utcnow() + dt.timedelta(seconds=1)
        new = store.data_key("contact", 77, born_at=born)
        assert new != old and store.existing_key("contact", 77) == new
        assert store.destroyed_at("contact", [77])[77] < born


def test_a_wrong_key_store_sweeps_nothing(app, make_subject, tmp_path, caplog):
    subject = make_subject(app)
    with app.app_context():
        state = app.extensions["gdprchat"]
        right = state.keystore
        from flask_gdprchat.core.keystore import KeyStore
        from flask_gdprchat.core.master_key import MasterKey

        state.keystore = KeyStore(f"sqlite:///{tmp_path / 'empty-keys.sqlite3'}",
                                  MasterKey(b"k" * 32, None))
        try:
            assert sealing.unreadable_contacts() == []
            assert "key store holds no key" in caplog.text
        finally:
            state.keystore = right
        assert session().get(Contact, subject.contact_id).email == subject.email.lower()


@pytest.mark.postgres
def test_postgres_pages_hold_no_readable_value_even_before_vacuum(
        make_app, make_subject):
    app = make_app("postgres")
    subject = make_subject(app)
    tables = ["gdprchat_contacts", "gdprchat_messages", "gdprchat_message_edits",
              "gdprchat_consents", "gdprchat_outbox"]

    def pages() -> bytes:
        with app.app_context():
            connection = session().connection()
            connection.exec_driver_sql("CHECKPOINT")  # dirty pages reach the files
            data = b""
            for table in tables:
                path = connection.exec_driver_sql(
                    f"SELECT pg_relation_filepath('{table}')").scalar()
                data += bytes(connection.exec_driver_sql(
                    f"SELECT pg_read_binary_file('{path}')").scalar())
            session().rollback()
            return data.lower()

    def readable(data: bytes) -> list[str]:
        values = [*subject.values, *subject.agent_texts]
        return [v for v in values if v.lower().encode() in data]

    assert readable(pages()) == []  # sealed from the first row
    with app.app_context():
        assert app.extensions["gdprchat"].chat.erase_subject(subject.email) is True
    # No VACUUM: the dead tuples are still in the pages, and still unreadable.
    assert readable(pages()) == []
    with app.app_context():
        assert keystore().existing_key("contact", subject.contact_id) is None


def test_export_json_opens_sealed_values(app, make_subject):
    subject = make_subject(app)
    with app.app_context():
        exported = json.loads(app.extensions["gdprchat"].chat.export_subject(subject.email))
    flat = json.dumps(exported)
    assert subject.name in flat and subject.visitor_texts[0] in flat
