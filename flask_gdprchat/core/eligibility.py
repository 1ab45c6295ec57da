"""Who may receive campaigns: the one rule, in Python and as SQL.

The outbox, the campaign sender and the dashboard's recipient count all ask here.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import and_

from flask_gdprchat.core.models import Contact


def may_receive_campaigns(contact: Contact) -> bool:
    """The one rule for campaigns: marketing consent, not unsubscribed, not restricted."""
    return (
        contact.marketing_consent
        and contact.unsubscribed_at is None
        and contact.restricted_at is None
    )


def may_receive_campaigns_clause() -> Any:
    """:func:`may_receive_campaigns` as an SQL condition on ``Contact``, for queries.

    The same three conditions; ``tests/test_campaigns.py`` checks both agree.
    """
    return and_(
        Contact.marketing_consent.is_(True),
        Contact.unsubscribed_at.is_(None),
        Contact.restricted_at.is_(None),
    )
