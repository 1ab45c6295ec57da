"""The data model on SQLite and PostgreSQL, and its personal-data declaration."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select

from flask_gdprchat.core.database import VERSION_TABLE, init_db
from flask_gdprchat.core.models import (
    Agent,
    Base,
    ConsentRecord,
    Contact,
    Conversation,
    Message,
    MessageEdit,
)
from flask_gdprchat.core.personal_data import personal_columns
from flask_gdprchat.core.state import session, state


def test_every_table_carries_the_prefix():
    assert Base.metadata.tables
    assert all(name.startswith("gdprchat_") for name in Base.metadata.tables)


def test_personal_columns_are_declared_in_one_place():
    contact_columns = {c.where for c in personal_columns("contact")}
    assert {
        "gdprchat_contacts.name",
        "gdprchat_contacts.email",
        "gdprchat_contacts.company",
        "gdprchat_contacts.phone",
        "gdprchat_messages.text",
        "gdprchat_message_edits.previous_text",
        "gdprchat_outbox.to_address",
    } <= contact_columns
    agent_columns = {c.where: c for c in personal_columns("agent")}
    assert {"gdprchat_agents.email", "gdprchat_agents.full_name", "gdprchat_agents.photo",
            "gdprchat_agents.password_hash"} <= set(agent_columns)
    assert agent_columns["gdprchat_agents.first_name"].kept_on_delete
    # Audit and request tables must never hold personal data.
    assert not any(c.table.name in ("gdprchat_audit_events", "gdprchat_subject_requests")
                   for c in personal_columns())


def test_models_round_trip_and_cascade(make_app, backend):
    app = make_app(backend)
    with app.app_context():
        db = session()
        contact = Contact(name="Jo", email="jo@example.test")
        conversation = Conversation(contact=contact, visitor_token_hash="a" * 64)
        message = Message(conversation=conversation, author="visitor", text="hello")
        db.add_all([contact, conversation, message,
                    ConsentRecord(contact=contact, purpose="privacy_policy",
                                  policy_version="1", wording="I accept")])
        db.flush()
        db.add(MessageEdit(message_id=message.id, previous_text="helo"))
        db.commit()

        loaded = db.scalars(select(Contact)).one()
        assert loaded.conversations[0].messages[0].text == "hello"
        assert loaded.consents[0].policy_version == "1"
        assert not loaded.is_anonymous

        db.delete(loaded)
        db.commit()
        for model in (Contact, Conversation, Message, MessageEdit, ConsentRecord):
            assert db.scalars(select(model)).first() is None


def test_anonymous_is_one_rule_in_python_and_sql(make_app, backend):
    app = make_app(backend)
    with app.app_context():
        db = session()
        people = [Contact(), Contact(name=""), Contact(phone="+33 1"), Contact(company="ACME")]
        db.add_all(people)
        db.commit()
        in_sql = set(db.scalars(select(Contact.id).where(Contact.is_anonymous)))
        in_python = {c.id for c in people if c.is_anonymous}
        assert in_sql == in_python == {people[0].id, people[1].id}


def test_init_db_is_idempotent_and_matches_the_models(make_app, backend):
    app = make_app(backend)
    with app.app_context():
        first = init_db()
        session().add(Agent(email="x@example.test", first_name="X", full_name="X Y"))
        session().commit()
        assert init_db() == first
        # Upgrading again never loses data.
        assert [a.email for a in session().scalars(select(Agent))] == ["x@example.test"]
        with state.db.engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"version_table": VERSION_TABLE,
                                  "include_object": _ours, "compare_type": True})
            diff = compare_metadata(context, Base.metadata)
            assert VERSION_TABLE in inspect(connection).get_table_names()
        assert diff == [], "models changed without a migration: python tools/regenerate_schema.py"


def _ours(obj, name, type_, reflected, compare_to):
    return type_ != "table" or (name.startswith("gdprchat_") and name != VERSION_TABLE)
