"""Marshmallow schemas of the subject export (Art. 15 and 20).

The profile and consent schemas are built from the personal-data declaration
(:mod:`flask_gdprchat.core.personal_data`), so a personal column added to those tables
is exported without anyone remembering to add it here.
"""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from flask_gdprchat.core.models import ConsentRecord, Contact
from flask_gdprchat.core.personal_data import personal_columns

#: Export format version, bumped when the shape changes (2: consents carry ``locale``).
EXPORT_VERSION = 2


def _personal_fields(table_name: str) -> dict[str, fields.Field]:
    return {
        pc.column.name: fields.Raw(allow_none=True)
        for pc in personal_columns("contact")
        if pc.table.name == table_name
    }


ProfileSchema: type[Schema] = Schema.from_dict(
    {
        "id": fields.Integer(),
        **_personal_fields(Contact.__tablename__),
        "marketing_consent": fields.Boolean(),
        "unsubscribed_at": fields.DateTime(allow_none=True),
        "restricted_at": fields.DateTime(allow_none=True),
        "created_at": fields.DateTime(),
        "last_activity_at": fields.DateTime(),
    },
    name="ProfileSchema",
)

ConsentSchema: type[Schema] = Schema.from_dict(
    {
        "id": fields.Integer(),
        "purpose": fields.String(),
        "policy_version": fields.String(),
        "wording": fields.String(),
        #: The language the wording was shown in.
        "locale": fields.String(allow_none=True),
        "given_at": fields.DateTime(),
        "withdrawn_at": fields.DateTime(allow_none=True),
        **_personal_fields(ConsentRecord.__tablename__),
    },
    name="ConsentSchema",
)


class EditSchema(Schema):
    """A message's text before an edit."""

    previous_text = fields.String()
    edited_at = fields.DateTime()


class MessageSchema(Schema):
    """One chat message with who wrote it (role and first name) and its edits."""

    id = fields.Integer()
    conversation_id = fields.Integer()
    author = fields.String()
    author_name = fields.String(allow_none=True)
    created_at = fields.DateTime()
    text = fields.String()
    edited_at = fields.DateTime(allow_none=True)
    edits = fields.List(fields.Nested(EditSchema))


class ConversationSchema(Schema):
    """A conversation's own fields (its messages are streamed apart)."""

    id = fields.Integer()
    contact_id = fields.Integer()
    status = fields.String()
    created_at = fields.DateTime()
    last_activity_at = fields.DateTime()


profile_schema = ProfileSchema()
consent_schema = ConsentSchema()
conversation_schema = ConversationSchema()
message_schema = MessageSchema()


def dump_profile(contact: Contact) -> dict[str, Any]:
    """The contact's profile as plain JSON-able data."""
    return profile_schema.dump(contact)


def dump_consent(record: ConsentRecord) -> dict[str, Any]:
    """A consent record as plain JSON-able data."""
    return consent_schema.dump(record)


__all__ = [
    "EXPORT_VERSION",
    "ProfileSchema",
    "ConsentSchema",
    "EditSchema",
    "MessageSchema",
    "ConversationSchema",
    "dump_profile",
    "dump_consent",
    "conversation_schema",
    "message_schema",
]
