"""Restriction (Art. 18): the data is kept but not processed, then purged after the grace period."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from flask_gdprchat.core import audit, signals
from flask_gdprchat.core.clock import utcnow
from flask_gdprchat.core.i18n import _, format_date
from flask_gdprchat.core.models import Contact
from flask_gdprchat.core.settings import setting
from flask_gdprchat.core.state import session
from flask_gdprchat.core.subjects import contacts_for_email
from flask_gdprchat.rights.requests import log_fulfilled
from flask_gdprchat.rights.subject import RightsError, _app, ref_of


def grace_ends_at(contacts: Iterable[Contact]) -> dt.datetime | None:
    """When the restriction of these contacts can no longer be lifted (None if none)."""
    started = [c.restricted_at for c in contacts if c.restricted_at is not None]
    if not started:
        return None
    return min(started) + dt.timedelta(days=setting("RESTRICTED_GRACE_DAYS"))


def set_restriction(contacts: list[Contact], restricted: bool, *, channel: str,
                    actor: str | None = None) -> bool:
    """Restrict (or lift the restriction of) a subject; False if nothing changed.

    Lifting after the grace period raises :class:`RightsError`: the data is then
    due for purging and is no longer restored.
    """
    now = utcnow()
    if restricted:
        targets = [c for c in contacts if c.restricted_at is None]
    else:
        targets = [c for c in contacts if c.restricted_at is not None]
        ends = grace_ends_at(targets)
        if ends is not None and now > ends:
            raise RightsError(_(
                "The restriction can no longer be lifted: its grace period ended on "
                "%(date)s, and the data is due to be deleted.", date=format_date(ends, "long")
            ))
    if not targets:
        return False
    ref = ref_of(contacts)
    for contact in targets:
        contact.restricted_at = now if restricted else None
    kind = "restrict" if restricted else "unrestrict"
    log_fulfilled(kind, ref=ref, channel=channel)
    audit.record("subject_restricted" if restricted else "restriction_lifted", ref=ref,
                 actor=actor or channel, contacts=len(targets))
    session().commit()
    for contact in targets:
        signals.subject_restricted.send(_app(), contact_id=contact.id, restricted=restricted)
    return True


def restrict_by_email(email: str, restricted: bool, channel: str) -> bool:
    """Restrict or lift the restriction of the subject with ``email``.

    Returns False when nothing is held (or nothing was to change).
    """
    contacts = contacts_for_email(email)
    if not contacts:
        return False
    return set_restriction(contacts, restricted, channel=channel)
