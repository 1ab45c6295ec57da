"""The request tracker: each subject request with its one-month deadline."""
from __future__ import annotations

import calendar
import datetime as dt

from flask_gdprchat.core.clock import utcnow
from flask_gdprchat.core.models import SubjectRequest
from flask_gdprchat.core.state import session


def one_month_after(when: dt.datetime) -> dt.datetime:
    """Art. 12(3): "within one month of receipt" (same day next month, or its last day)."""
    year, month = (when.year + 1, 1) if when.month == 12 else (when.year, when.month + 1)
    day = min(when.day, calendar.monthrange(year, month)[1])
    return when.replace(year=year, month=month, day=day)


def open_request(kind: str, *, ref: str | None, channel: str) -> SubjectRequest:
    """Log a request as received now (the caller commits)."""
    now = utcnow()
    request = SubjectRequest(
        kind=kind, subject_ref=ref, channel=channel, received_at=now, due_at=one_month_after(now)
    )
    session().add(request)
    return request


def fulfil(request: SubjectRequest) -> None:
    """Mark a request done now (the caller commits)."""
    request.fulfilled_at = utcnow()
    request.status = "fulfilled"


def log_fulfilled(kind: str, *, ref: str | None, channel: str) -> SubjectRequest:
    """A request received and fulfilled at once (most self-service actions)."""
    request = open_request(kind, ref=ref, channel=channel)
    fulfil(request)
    return request
