"""The data model. Every table carries the ``gdprchat_`` prefix.

Models sit on their own declarative base, not on a Flask-SQLAlchemy ``db.Model``,
so they work with the host's ``db`` or with ours alike. Columns holding personal
data are made with :func:`personal`; export, erasure and erasure verification walk
that declaration (see :mod:`flask_gdprchat.core.personal_data`), so a new column cannot
be forgotten.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    and_,
    false,
    or_,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from flask_gdprchat.core.clock import utcnow

#: The largest id a row can have (SQLite and PostgreSQL bigint both stop here).
MAX_ROW_ID = 2**63 - 1


def row_id(value: Any) -> int | None:
    """``value`` as a row id if it can be one (a whole number from 1 to
    :data:`MAX_ROW_ID`, or its decimal text), else None.

    Asking the database for a bigger number fails instead of finding nothing.
    """
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ROW_ID:
        return value
    return None


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every flask-gdprchat table."""

    metadata = MetaData(naming_convention=NAMING)
    # Naive UTC everywhere: SQLite has no time zones, so PostgreSQL stores the same.
    type_annotation_map = {dt.datetime: DateTime()}


def personal(*args: Any, subject: str = "contact", sealed: bool = False, **kwargs: Any) -> Any:
    """A column holding personal data of a ``contact`` or an ``agent``.

    The mark lives in the column's ``info`` so that the erasure, export and
    verification code finds every such column by walking the metadata.

    ``sealed``: the value is stored encrypted under the subject's data key in the
    twin column ``<name>_sealed`` (made with :func:`sealed_twin`), and this column
    keeps only a blank; the ORM shows the opened value (see
    :mod:`flask_gdprchat.core.sealing`). A row written before encryption keeps its
    value here until it is sealed.
    """
    info = dict(kwargs.pop("info", {}))
    info["personal"] = subject
    if sealed:
        info["sealed"] = True
    return mapped_column(*args, info=info, **kwargs)


def sealed_twin() -> Any:
    """The encrypted twin of a sealed personal column (None while there is no value)."""
    return mapped_column(LargeBinary, info={"sealed_twin": True})


def blind_index_column(**kwargs: Any) -> Any:
    """A keyed digest of a sealed value, for finding rows without the plain value."""
    return mapped_column(String(64), info={"blind_index": True}, **kwargs)


class Contact(Base):
    """A data subject: a visitor who consented to chat, identified or not."""

    __tablename__ = "gdprchat_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = personal(String(255), index=True, sealed=True)
    name: Mapped[str | None] = personal(String(255), sealed=True)
    email: Mapped[str | None] = personal(String(320), index=True, sealed=True)
    company: Mapped[str | None] = personal(String(255), sealed=True)
    phone: Mapped[str | None] = personal(String(64), sealed=True)
    ip_address: Mapped[str | None] = personal(String(64), sealed=True)
    external_id_sealed: Mapped[bytes | None] = sealed_twin()
    name_sealed: Mapped[bytes | None] = sealed_twin()
    email_sealed: Mapped[bytes | None] = sealed_twin()
    company_sealed: Mapped[bytes | None] = sealed_twin()
    phone_sealed: Mapped[bytes | None] = sealed_twin()
    ip_address_sealed: Mapped[bytes | None] = sealed_twin()
    #: Keyed digests (HMAC-SHA-256, key in the key store) of the e-mail and external id:
    #: how a contact is found without its plain values.
    email_index: Mapped[str | None] = blind_index_column(index=True)
    external_id_index: Mapped[str | None] = blind_index_column(index=True)
    marketing_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    unsubscribed_at: Mapped[dt.datetime | None] = mapped_column()
    restricted_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    #: Bumped on e-mail change or erasure request: kills every privacy link issued.
    link_epoch: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_activity_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)

    conversations: Mapped[list[Conversation]] = relationship(
        back_populates="contact", cascade="all, delete-orphan", passive_deletes=True
    )
    consents: Mapped[list[ConsentRecord]] = relationship(
        back_populates="contact", cascade="all, delete-orphan", passive_deletes=True
    )

    @hybrid_property
    def is_anonymous(self) -> bool:
        """The one rule for "anonymous": no name, e-mail, phone or company."""
        return not (self.name or self.email or self.phone or self.company)

    @is_anonymous.inplace.expression
    @classmethod
    def _is_anonymous_expression(cls) -> Any:
        def blank(column: Any, twin: Any) -> Any:
            # Blank in plain (a row written before encryption) and sealed alike.
            return and_(or_(column.is_(None), column == ""), twin.is_(None))

        return and_(blank(cls.name, cls.name_sealed), blank(cls.email, cls.email_sealed),
                    blank(cls.phone, cls.phone_sealed), blank(cls.company, cls.company_sealed))

    @property
    def is_restricted(self) -> bool:
        return self.restricted_at is not None

    @property
    def is_unsubscribed(self) -> bool:
        return self.unsubscribed_at is not None


class ConsentRecord(Base):
    """Proof of consent: purpose, policy version, the wording shown, and when."""

    __tablename__ = "gdprchat_consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("gdprchat_contacts.id", ondelete="CASCADE"), index=True
    )
    #: ``privacy_policy`` or ``marketing``.
    purpose: Mapped[str] = mapped_column(String(32))
    policy_version: Mapped[str] = mapped_column(String(64))
    wording: Mapped[str] = mapped_column(Text)
    #: The language the wording was shown in (``de``); None on records made before.
    locale: Mapped[str | None] = mapped_column(String(16))
    given_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column()
    ip_address: Mapped[str | None] = personal(String(64), sealed=True)
    user_agent: Mapped[str | None] = personal(String(512), sealed=True)
    ip_address_sealed: Mapped[bytes | None] = sealed_twin()
    user_agent_sealed: Mapped[bytes | None] = sealed_twin()

    contact: Mapped[Contact] = relationship(back_populates="consents")


class Conversation(Base):
    """One chat thread between a contact and the team."""

    __tablename__ = "gdprchat_conversations"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("gdprchat_contacts.id", ondelete="CASCADE"), index=True
    )
    #: SHA-256 of the visitor token; the token itself is never stored.
    visitor_token_hash: Mapped[str] = personal(String(64), unique=True)
    #: ``open`` or ``resolved`` (see :mod:`flask_gdprchat.chat.workflow`).
    status: Mapped[str] = mapped_column(String(16), default="open")
    #: Who on the team owns the conversation (None: the shared inbox); indexed for "Mine".
    assigned_agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("gdprchat_agents.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_activity_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    #: Messages of the visitor that no agent has seen yet.
    unread_count: Mapped[int] = mapped_column(Integer, default=0)
    #: A message left while nobody could answer: agents answer it by e-mail, not live.
    offline: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    contact: Mapped[Contact] = relationship(back_populates="conversations")
    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Message.id",
    )


class Message(Base):
    """A chat message. Author names are never copied in: they are looked up."""

    __tablename__ = "gdprchat_messages"
    __table_args__ = (
        Index("ix_gdprchat_messages_conversation_id_id", "conversation_id", "id"),
        # A retried send (same client id in the same conversation) stores nothing new.
        Index("uq_gdprchat_messages_client_msg_id", "conversation_id", "client_msg_id",
              unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("gdprchat_conversations.id", ondelete="CASCADE")
    )
    #: ``visitor``, ``agent`` or ``system`` (campaign notices and the like).
    author: Mapped[str] = mapped_column(String(16))
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("gdprchat_agents.id", ondelete="SET NULL"), index=True
    )
    text: Mapped[str] = personal(Text, sealed=True)
    text_sealed: Mapped[bytes | None] = sealed_twin()
    #: The sender's own id for this message (``send_message``'s ``client_msg_id``).
    client_msg_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[dt.datetime | None] = mapped_column()

    conversation: Mapped[Conversation] = relationship(back_populates="messages")
    agent: Mapped[Agent | None] = relationship()
    edits: Mapped[list[MessageEdit]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="MessageEdit.id"
    )


class MessageEdit(Base):
    """The text a message had before an edit, kept for the subject's export."""

    __tablename__ = "gdprchat_message_edits"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("gdprchat_messages.id", ondelete="CASCADE"), index=True
    )
    previous_text: Mapped[str] = personal(Text, sealed=True)
    previous_text_sealed: Mapped[bytes | None] = sealed_twin()
    edited_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("gdprchat_agents.id", ondelete="SET NULL")
    )


class Agent(Base):
    """A team member. Deleting one keeps a tombstone with the first name only."""

    __tablename__ = "gdprchat_agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str | None] = personal(String(320), unique=True, subject="agent",
                                         sealed=True)
    full_name: Mapped[str | None] = personal(String(255), subject="agent", sealed=True)
    #: How visitors see the agent ("Jane", "Jane S."); erased with the full name.
    display_name: Mapped[str | None] = personal(String(255), subject="agent", sealed=True)
    #: The first word of the display name (titles such as "Dr." skipped): what the
    #: agent's messages keep after deletion, unless purged. Not sealed: it outlives
    #: the agent's key.
    first_name: Mapped[str] = personal(
        String(255), subject="agent", info={"kept_on_delete": True}
    )
    photo: Mapped[bytes | None] = personal(LargeBinary, subject="agent", sealed=True)
    password_hash: Mapped[str | None] = personal(String(255), subject="agent", sealed=True)
    email_sealed: Mapped[bytes | None] = sealed_twin()
    full_name_sealed: Mapped[bytes | None] = sealed_twin()
    display_name_sealed: Mapped[bytes | None] = sealed_twin()
    photo_sealed: Mapped[bytes | None] = sealed_twin()
    password_hash_sealed: Mapped[bytes | None] = sealed_twin()
    #: Keyed digest of the sign-in e-mail (see :class:`Contact`), unique like the e-mail.
    email_index: Mapped[str | None] = blind_index_column(unique=True)
    #: Space-separated names from :data:`flask_gdprchat.core.config.PERMISSIONS`.
    permissions: Mapped[str] = mapped_column(String(255), default="")
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Bumped on deletion, disabling or a permission change: ends open sessions.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    #: ``online`` or ``away``, chosen in the console; it outlives a sign-out.
    presence: Mapped[str] = mapped_column(String(16), default="online", server_default="online")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column()

    @property
    def public_name(self) -> str:
        """The name visitors see: the display name, else the first name kept.

        Not an SQL expression: the display name is sealed. Queries ask
        :func:`flask_gdprchat.core.agent_names.public_names`.
        """
        return self.display_name or self.first_name

    @property
    def permission_set(self) -> frozenset[str]:
        return frozenset(self.permissions.split()) if self.permissions else frozenset()

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class SavedReply(Base):
    """A canned answer agents insert by typing ``/shortcut`` in the reply box."""

    __tablename__ = "gdprchat_saved_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Lower-case letters, digits, ``-`` and ``_``; typed after ``/``.
    shortcut: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str | None] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SavedSetting(Base):
    """A dashboard setting that overrides the config default at run time."""

    __tablename__ = "gdprchat_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by_agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("gdprchat_agents.id", ondelete="SET NULL")
    )


class AuditEvent(Base):
    """One link of the append-only, hash-chained audit log. No personal data."""

    __tablename__ = "gdprchat_audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    event: Mapped[str] = mapped_column(String(64), index=True)
    #: Keyed hash of the subject (HMAC of the e-mail or contact id), never the value.
    subject_ref: Mapped[str | None] = mapped_column(String(64), index=True)
    actor: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[Any] = mapped_column(JSON, default=dict)
    #: Unique, so two writers can never chain onto the same event (a fork).
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class SubjectRequest(Base):
    """A data-subject request with its one-month deadline (Art. 12(3))."""

    __tablename__ = "gdprchat_subject_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: access, export, transcript, rectify, erase, restrict, unrestrict, unsubscribe...
    kind: Mapped[str] = mapped_column(String(32))
    subject_ref: Mapped[str | None] = mapped_column(String(64), index=True)
    #: Who carried it: ``subject``, ``agent``, ``cli`` or ``api``.
    channel: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    due_at: Mapped[dt.datetime] = mapped_column()
    fulfilled_at: Mapped[dt.datetime | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="open")


class Campaign(Base):
    """A manual or automatic message to contacts who opted in to marketing."""

    __tablename__ = "gdprchat_campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    #: ``email`` or ``chat``.
    channel: Mapped[str] = mapped_column(String(16), default="email")
    #: ``manual`` (sent once on demand) or ``automatic`` (sent by the scheduler).
    kind: Mapped[str] = mapped_column(String(16), default="manual")
    #: For automatic campaigns: days after a contact's first chat to send it.
    delay_days: Mapped[int | None] = mapped_column(Integer)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column()


class CampaignDelivery(Base):
    """That a campaign reached a contact (so automatic ones never repeat)."""

    __tablename__ = "gdprchat_campaign_deliveries"
    __table_args__ = (Index("uq_gdprchat_delivery", "campaign_id", "contact_id", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("gdprchat_campaigns.id", ondelete="CASCADE")
    )
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("gdprchat_contacts.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    sent_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class OutboundMail(Base):
    """Mail not yet handed to the SMTP server. Sent mail leaves this table."""

    __tablename__ = "gdprchat_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("gdprchat_contacts.id", ondelete="CASCADE"), index=True
    )
    #: Sealed under the contact's key when the mail is to a contact; mail to no
    #: contact (an agent's notice) is kept plain, for the minutes until it is sent.
    to_address: Mapped[str] = personal(String(320), sealed=True)
    subject: Mapped[str] = personal(String(255), sealed=True)
    body_text: Mapped[str] = personal(Text, sealed=True)
    body_html: Mapped[str | None] = personal(Text, sealed=True)
    headers: Mapped[Any] = personal(JSON, default=dict, sealed=True)
    to_address_sealed: Mapped[bytes | None] = sealed_twin()
    subject_sealed: Mapped[bytes | None] = sealed_twin()
    body_text_sealed: Mapped[bytes | None] = sealed_twin()
    body_html_sealed: Mapped[bytes | None] = sealed_twin()
    headers_sealed: Mapped[bytes | None] = sealed_twin()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(255))
    #: Not tried again before this (back-off after a failure); None = now.
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    #: Given up on (too many failures, or it cannot be built): kept for the
    #: dashboard, never sent, erased like the rest.
    failed_at: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Throttle(Base):
    """Recent hits of a rate-limited action, keyed by a hash, never a raw value."""

    __tablename__ = "gdprchat_throttle"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class JobLease(Base):
    """Who runs a scheduled job now; a lease makes each job run once at a time."""

    __tablename__ = "gdprchat_job_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(128))
    expires_at: Mapped[dt.datetime | None] = mapped_column()


class LiveSocket(Base):
    """An open Socket.IO connection, so that erasure or a revoked agent can close it
    from any process (a disconnect by sid travels over the message queue)."""

    __tablename__ = "gdprchat_sockets"

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("gdprchat_agents.id", ondelete="CASCADE"), index=True
    )
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("gdprchat_conversations.id", ondelete="CASCADE"), index=True
    )
    #: The agent sign-in this socket belongs to: signing out closes it. Kept (as
    #: NULL) when the sign-in row goes, so the socket can still be found and closed.
    agent_session_id: Mapped[int | None] = mapped_column(
        ForeignKey("gdprchat_agent_sessions.id", ondelete="SET NULL"), index=True
    )
    connected_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AgentSession(Base):
    """One agent sign-in. The cookie holds a random token whose hash is kept here;
    signing out deletes the row, so a copy of the cookie opens nothing."""

    __tablename__ = "gdprchat_agent_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(
        ForeignKey("gdprchat_agents.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


__all__ = [
    "AgentSession",
    "MAX_ROW_ID",
    "row_id",
    "Base",
    "personal",
    "sealed_twin",
    "blind_index_column",
    "Contact",
    "ConsentRecord",
    "Conversation",
    "Message",
    "MessageEdit",
    "Agent",
    "SavedReply",
    "SavedSetting",
    "AuditEvent",
    "SubjectRequest",
    "Campaign",
    "CampaignDelivery",
    "OutboundMail",
    "Throttle",
    "JobLease",
    "LiveSocket",
]
