"""Time, from one place, so that tests and the purge can be given a clock."""
from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    """Now, as a naive UTC datetime (how every timestamp is stored)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
