"""Encryption at rest of the sealed personal columns, under each subject's own key.

The personal-data declaration (:func:`flask_gdprchat.core.models.personal` with
``sealed=True``) says which values are sealed; this module is the one place that
seals and opens them. A sealed value is AES-256-GCM under the data key of the
subject it belongs to (the contact, or for a team member's own columns the
agent; see :mod:`flask_gdprchat.core.keystore`), with the row's table, column
and id as associated data, and lives in the column's twin ``<name>_sealed``; the
plain column keeps a blank. Destroying the subject's key therefore makes every
copy of those values unreadable: the live file, its WAL, PostgreSQL's dead
tuples and every backup taken before.

For the ORM this is invisible: loading a row opens its values, and flushing one
seals what changed, before a single byte reaches the database. A new row's id is
known only once it is inserted, so it is inserted with blanks and its sealed
values written in the same flush (the same transaction): the plain value never
reaches the database. The chat's Core paths (the message writer, histories) use
:func:`seal` and :func:`open_value` directly.

A value whose key is gone (erased, or a row restored from a backup taken before
an erasure) opens as None; the purge job sweeps such rows away.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import g, has_app_context
from sqlalchemy import JSON, LargeBinary, Table, Text, and_, cast, event, or_, select, update
from sqlalchemy.orm import Session, attributes
from sqlalchemy.orm.attributes import flag_modified, set_committed_value

from flask_gdprchat.core.crypto import (
    DecryptionError,
    decrypt,
    decrypt_bytes,
    encrypt,
    encrypt_bytes,
    row_aad,
)
from flask_gdprchat.core.keystore import KeyDestroyedError, keystore
from flask_gdprchat.core.models import (
    Agent,
    Base,
    ConsentRecord,
    Contact,
    Conversation,
    Message,
    MessageEdit,
    OutboundMail,
)
from flask_gdprchat.core.state import session, state

log = logging.getLogger("flask_gdprchat")

#: The kind of subject whose key seals the chat's values.
SUBJECT_KIND = "contact"
#: The kind of subject whose key seals a team member's own columns.
AGENT_KIND = "agent"
#: Whose key seals a row: (kind of subject, its id).
Owner = tuple[str, int]
#: Columns with a blind index, by model: the index column and the digest's purpose
#: (see :func:`blind_index`).
BLIND_INDEXES: dict[type, dict[str, tuple[str, str]]] = {
    Contact: {"email": ("email_index", "email"),
              "external_id": ("external_id_index", "external_id")},
    Agent: {"email": ("email_index", "agent_email")},
}


@dataclass(frozen=True)
class SealedField:
    """One sealed column of a model: its attribute, its twin, and its blank."""

    attr: str
    twin: str
    table: str
    is_json: bool
    blank: Any
    is_bytes: bool = False

    def aad(self, row_id: int) -> bytes:
        return row_aad(self.table, self.attr, row_id)


_FIELDS: dict[type, tuple[SealedField, ...]] = {}


def sealed_fields(model: type) -> tuple[SealedField, ...]:
    """The sealed columns of ``model`` as the declaration marks them (empty if none)."""
    known = _FIELDS.get(model)
    if known is None:
        known = _FIELDS[model] = _read_declaration(model)
    return known


def _read_declaration(model: type) -> tuple[SealedField, ...]:
    table = getattr(model, "__table__", None)
    if not isinstance(table, Table):
        return ()
    found = []
    for column in table.columns:
        if not column.info.get("sealed"):
            continue
        twin = f"{column.name}_sealed"
        if twin not in table.columns:
            raise TypeError(f"{table.name}.{column.name} is sealed but has no {twin} column")
        is_json = isinstance(column.type, JSON)
        blank: Any = {} if is_json else (None if column.nullable else "")
        found.append(SealedField(column.name, twin, table.name, is_json, blank,
                                 isinstance(column.type, LargeBinary)))
    return tuple(found)


def sealed_models() -> list[type]:
    """Every model with a sealed column."""
    return [m.class_ for m in Base.registry.mappers if sealed_fields(m.class_)]


# -- values -------------------------------------------------------------------------------


def seal_needed(value: Any) -> bool:
    """Whether a value is something to seal (not a blank)."""
    return value not in (None, "", b"", {})


def seal(key: bytes, field: SealedField, row_id: int, value: Any) -> bytes | None:
    """``value`` sealed for its place, or None for a blank (nothing to keep)."""
    if not seal_needed(value):
        return None
    if field.is_bytes:
        return encrypt_bytes(key, value, field.aad(row_id))
    text = json.dumps(value, sort_keys=True) if field.is_json else value
    return encrypt(key, text, field.aad(row_id))


def open_value(key: bytes | None, field: SealedField, row_id: int, blob: bytes | None,
               plain: Any = None) -> Any:
    """The value of a stored field: opened from ``blob``, else the plain one.

    With no key (destroyed) or a blob that does not open here (moved, altered),
    the value is the field's blank: nothing is shown rather than something wrong.
    """
    if blob is None:
        return plain
    if key is None:
        return field.blank
    try:
        if field.is_bytes:
            return decrypt_bytes(key, blob, field.aad(row_id))
        text = decrypt(key, blob, field.aad(row_id))
    except DecryptionError:
        log.warning("a sealed value (%s) does not open under its subject's key: "
                    "shown as empty", field.aad(row_id).decode())
        return field.blank
    return json.loads(text) if field.is_json else text


def field(model: type, attr: str) -> SealedField:
    """The sealed field ``attr`` of ``model``."""
    for found in sealed_fields(model):
        if found.attr == attr:
            return found
    raise KeyError(f"{model.__name__}.{attr} is not sealed")


def contact_key(contact_id: int, *, born_at: dt.datetime | None = None) -> bytes:
    """The data key a contact's values are sealed with (made on first use)."""
    return _key((SUBJECT_KIND, contact_id), born_at=born_at)


def existing_contact_key(contact_id: int | None) -> bytes | None:
    """The contact's data key, or None when it has none (destroyed, never made)."""
    return _existing_key(None if contact_id is None else (SUBJECT_KIND, contact_id))


def existing_agent_key(agent_id: int | None) -> bytes | None:
    """The team member's data key, or None when it has none (erased, never made)."""
    return _existing_key(None if agent_id is None else (AGENT_KIND, agent_id))


def _key(owner: Owner, *, born_at: dt.datetime | None = None) -> bytes:
    return keystore().data_key(owner[0], owner[1], born_at=born_at)


def _existing_key(owner: Owner | None) -> bytes | None:
    return None if owner is None else keystore().existing_key(*owner)


def blind_index(value: str | None, purpose: str = "email") -> str | None:
    """The keyed digest by which rows holding ``value`` are found (None for a blank)."""
    if value is None or str(value).strip() == "":
        return None
    return keystore().blind_index(str(value), purpose)


# -- whose key --------------------------------------------------------------------------


def _conversation_contacts() -> dict[int, int]:
    if not has_app_context():
        return {}
    cached: dict[int, int] = g.setdefault("_gdprchat_conversation_contacts", {})
    return cached


def contact_of_conversation(conversation_id: int, connection: Any) -> int | None:
    """The contact a conversation belongs to (looked up once per app context)."""
    cached = _conversation_contacts()
    if conversation_id in cached:
        return cached[conversation_id]
    found = connection.scalar(select(Conversation.contact_id)
                              .where(Conversation.id == conversation_id))
    if found is None:
        return None
    cached[conversation_id] = int(found)
    return int(found)


def owner_of(obj: Any, connection: Any) -> Owner | None:
    """The subject whose key seals ``obj``'s values; None when it is no subject's
    (mail to an agent)."""
    contact: int | None = None
    if isinstance(obj, Agent):
        return (AGENT_KIND, obj.id)
    if isinstance(obj, Contact):
        contact = obj.id
    elif isinstance(obj, (ConsentRecord, OutboundMail)):
        contact = obj.contact_id
    elif isinstance(obj, Message):
        contact = contact_of_conversation(obj.conversation_id, connection)
    elif isinstance(obj, MessageEdit):
        conversation_id = connection.scalar(select(Message.conversation_id)
                                            .where(Message.id == obj.message_id))
        if conversation_id is not None:
            contact = contact_of_conversation(conversation_id, connection)
    return None if contact is None else (SUBJECT_KIND, contact)


# -- the ORM ----------------------------------------------------------------------------

_PENDING = "_gdprchat_sealing"


def _opened(obj: Any, attrs: Iterable[str] | None) -> None:
    fields = sealed_fields(type(obj))
    if not fields or not has_app_context() or state.keystore is None:
        return
    wanted = None if attrs is None else set(attrs)
    todo = [f for f in fields
            if wanted is None or f.attr in wanted or f.twin in wanted]
    todo = [f for f in todo if obj.__dict__.get(f.twin) is not None]
    if not todo:
        return
    owning = Session.object_session(obj)
    connection = owning.connection() if owning is not None else None
    if connection is None:
        return
    key = _existing_key(owner_of(obj, connection))
    for f in todo:
        set_committed_value(obj, f.attr, open_value(key, f, obj.id, obj.__dict__[f.twin]))


def _on_load(obj: Any, _context: Any) -> None:
    _opened(obj, None)


def _on_refresh(obj: Any, _context: Any, attrs: Iterable[str] | None) -> None:
    _opened(obj, attrs)


def _changed(obj: Any, fields: tuple[SealedField, ...], new: bool) -> list[SealedField]:
    if new:
        return list(fields)
    return [f for f in fields if attributes.get_history(obj, f.attr).has_changes()]


def _before_flush(db: Session, _context: Any, _instances: Any) -> None:
    """Swap every changed sealed value for its blank before it can be written."""
    if not has_app_context() or not state.seal_at_rest:
        return
    for obj in list(db.new) + list(db.dirty):
        fields = sealed_fields(type(obj))
        if not fields:
            continue
        new = obj in db.new
        changed = _changed(obj, fields, new)
        if not changed:
            continue
        plain = {f.attr: getattr(obj, f.attr) for f in changed}
        for attr, (index, purpose) in BLIND_INDEXES.get(type(obj), {}).items():
            if attr in plain:
                setattr(obj, index, blind_index(plain[attr], purpose))
        key = None
        if not new:
            owner = owner_of(obj, db.connection())
            if owner is None:
                continue  # no subject's (mail to an agent): kept plain
            if any(seal_needed(plain[f.attr]) for f in changed):
                # Blanking values (an erasure) needs no key: it may be destroyed.
                key = _key(owner)
        for f in changed:
            setattr(obj, f.attr, f.blank)
            if new:
                continue  # a new row is sealed once its id is known
            setattr(obj, f.twin, None if key is None else seal(key, f, obj.id, plain[f.attr]))
        obj.__dict__[_PENDING] = (new, plain)
        db.info.setdefault(_PENDING, []).append(obj)


def _after_flush(db: Session, _context: Any) -> None:
    """Seal the values of the rows just inserted, now that their ids are known."""
    if _PENDING not in db.info:
        return
    connection = db.connection()
    for obj in db.info.get(_PENDING, ()):
        pending = obj.__dict__.get(_PENDING)
        if pending is None or not pending[0]:
            continue
        _new, plain = pending
        owner = owner_of(obj, connection)
        if owner is None:
            # Not a contact's: it stays plain after all.
            table = type(obj).__table__
            connection.execute(update(table).where(table.c.id == obj.id).values(plain))
            continue
        # A new subject's key is made now, with its birth, even when every value is
        # blank: an id a restored backup counts again gets a key of its own.
        born_at = obj.created_at if isinstance(obj, (Contact, Agent)) else None
        key = _key(owner, born_at=born_at)
        sealed = {f.twin: seal(key, f, obj.id, plain[f.attr])
                  for f in sealed_fields(type(obj)) if f.attr in plain}
        table = type(obj).__table__
        connection.execute(update(table).where(table.c.id == obj.id).values(sealed))
        obj.__dict__[_PENDING] = (False, plain, sealed)


def _after_flush_postexec(db: Session, _context: Any) -> None:
    """Put the plain values back on the objects (as stored, so nothing is dirty)."""
    for obj in db.info.pop(_PENDING, ()):
        pending = obj.__dict__.pop(_PENDING, None)
        if pending is None:
            continue
        for attr, value in pending[1].items():
            set_committed_value(obj, attr, value)
        if len(pending) == 3:
            for twin, blob in pending[2].items():
                set_committed_value(obj, twin, blob)


def _after_rollback(db: Session) -> None:
    for obj in db.info.pop(_PENDING, ()):
        obj.__dict__.pop(_PENDING, None)


_installed = False


def install() -> None:
    """Listen to the ORM (once per process): seal on flush, open on load."""
    global _installed
    if _installed:
        return
    for model in sealed_models():
        event.listen(model, "load", _on_load)
        event.listen(model, "refresh", _on_refresh)
    event.listen(Session, "before_flush", _before_flush)
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "after_flush_postexec", _after_flush_postexec)
    event.listen(Session, "after_soft_rollback", lambda db, _tx: _after_rollback(db))
    _installed = True


# -- what a restored backup holds, and what was stored before encryption ---------------


def _has_sealed_values() -> Any:
    """SQL: the contact holds sealed values (its own, or in its conversations' messages)."""
    twins = [getattr(Contact, f.twin).is_not(None) for f in sealed_fields(Contact)]
    messages = (
        select(Message.id).join(Conversation, Conversation.id == Message.conversation_id)
        .where(Conversation.contact_id == Contact.id, Message.text_sealed.is_not(None))
        .exists()
    )
    return or_(*twins, Contact.email_index.is_not(None), messages)


def unreadable_contacts() -> list[int]:
    """Contacts whose sealed values no key opens any more: the purge sweeps them.

    That is a contact whose key was destroyed after it was made (erased, yet here
    again: a database restored from a backup taken before the erasure), or one
    holding sealed values with no key at all. A contact with a reused id made
    after the destruction is another subject, with a key of its own, and stays.
    When the key store holds nothing at all while sealed values exist, it is the
    wrong store (a new file, a mistyped ``GDPRCHAT_KEYSTORE_URI``), not an erasure:
    nothing is swept and the error is logged, so restoring the right store still
    opens everything.
    """
    rows = session().execute(
        select(Contact.id, Contact.created_at, _has_sealed_values().label("sealed"))
    ).all()
    return _unreadable(SUBJECT_KIND, rows)


def unreadable_agents() -> list[int]:
    """Team members a restored backup brought back after their erasure.

    An agent's row outlives its erasure (its messages keep the first name), so
    only an agent whose key was destroyed after it was made and whose row still
    holds something the erasure removes (sealed or plain values, a blind index, a
    way to sign in) counts; or one holding sealed values with no key at all. The
    purge erases them again. The same guard against a wrong key store holds as
    for :func:`unreadable_contacts`.
    """
    twins = [getattr(Agent, f.twin).is_not(None) for f in sealed_fields(Agent)]
    sealed = or_(*twins, Agent.email_index.is_not(None))
    holding = or_(sealed, _legacy(Agent), Agent.deleted_at.is_(None))
    rows = session().execute(
        select(Agent.id, Agent.created_at, sealed.label("sealed")).where(holding)
    ).all()
    return _unreadable(AGENT_KIND, rows)


def _unreadable(kind: str, rows: Any) -> list[int]:
    if not rows:
        return []
    store = keystore()
    if store.is_empty():
        if any(row.sealed for row in rows):
            log.error("the key store holds no key at all, yet %ss hold sealed values: "
                      "is GDPRCHAT_KEYSTORE_URI the store these values were sealed under? "
                      "Nothing is swept until it is", kind)
        return []
    live = store.known_subjects(kind)
    destroyed = store.destroyed_at(kind, [row.id for row in rows])
    return [
        row.id for row in rows
        if (row.id in destroyed and row.created_at <= destroyed[row.id])
        or (row.id not in live and row.sealed)
    ]


def _legacy(model: type) -> Any:
    """SQL: the row still holds a plain value where a sealed one belongs."""
    fields = sealed_fields(model)
    plain = []
    for f in fields:
        column = getattr(model, f.attr)
        if f.is_json:
            plain.append(and_(column.is_not(None), cast(column, Text) != "{}",
                              cast(column, Text) != "null"))
        elif f.is_bytes:
            plain.append(column.is_not(None))
        else:
            plain.append(and_(column.is_not(None), column != ""))
    clause = or_(*plain)
    if model is OutboundMail:
        clause = and_(clause, OutboundMail.contact_id.is_not(None))
    return clause


def seal_existing(batch_size: int = 500, *, limit: int | None = None) -> int:
    """Seal values stored before encryption, ``batch_size`` rows per transaction.

    Resumable: each batch commits on its own and the next call finds what is left
    by the same rule, so an interrupted run loses nothing and repeats nothing.
    Rows of subjects whose key was destroyed (erased subjects a restored backup
    holds again) are left as they are: no key may be made for them, and the purge
    removes them (contacts) or erases them again (agents). Stops after about
    ``limit`` rows (None: when nothing is left). Returns how many rows were sealed.
    """
    db = session()
    erased = {(SUBJECT_KIND, i) for i in unreadable_contacts()}
    erased |= {(AGENT_KIND, i) for i in unreadable_agents()}
    done = 0
    for model in (Contact, ConsentRecord, Message, MessageEdit, OutboundMail, Agent):
        fields = sealed_fields(model)
        row_id = model.__table__.c.id
        after = 0  # by id, so that rows left for the purge are passed once
        while limit is None or done < limit:
            size = batch_size if limit is None else min(batch_size, limit - done)
            rows: list[Any] = list(db.scalars(select(model).where(_legacy(model), row_id > after)
                                              .order_by(row_id).limit(size)))
            if not rows:
                break
            after = rows[-1].id
            for obj in rows:
                if owner_of(obj, db.connection()) in erased:
                    continue
                done += 1
                for f in fields:
                    value = getattr(obj, f.attr)
                    if seal_needed(value):
                        flag_modified(obj, f.attr)
            db.commit()
    return done


def destroy_contact_keys(contact_ids: list[int]) -> None:
    """Destroy these contacts' data keys (erasure, retention): their values are gone for good."""
    keystore().destroy_keys(SUBJECT_KIND, contact_ids)


def destroy_agent_keys(agent_ids: list[int]) -> None:
    """Destroy these team members' data keys (their erasure)."""
    keystore().destroy_keys(AGENT_KIND, agent_ids)


__all__ = [
    "BLIND_INDEXES", "KeyDestroyedError", "SealedField", "blind_index", "contact_key",
    "contact_of_conversation", "destroy_agent_keys", "destroy_contact_keys",
    "existing_agent_key", "existing_contact_key", "field", "install", "open_value", "owner_of", "seal",
    "seal_existing", "seal_needed", "sealed_fields", "sealed_models", "unreadable_agents",
    "unreadable_contacts",
]
