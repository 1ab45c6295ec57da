"""Office hours: when the team answers, per weekday, in the site's time zone.

``GDPRCHAT_OFFICE_HOURS`` is ``None`` (open around the clock) or a mapping such as
``{"timezone": "Europe/Berlin", "mon": ["09:00", "17:00"], "sat": ["10:00", "14:00"]}``:
one opening and one closing time per weekday (``mon`` ... ``sun``), a day that is
missing (or ``None``) being closed. A closing time of ``24:00`` is midnight at the
end of the day. The dashboard edits it as text (:func:`parse_text`,
:func:`to_text`): a line with the time zone, then lines like ``Mon-Fri 09:00-17:00``.

Whether someone can answer now is the office being open *and* an agent online
(:func:`flask_gdprchat.core.presence.agents_online`); this module knows only the clock.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: The weekdays, in the order of ``date.weekday()``.
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_TIME = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])|24:00")
_DAY_LINE = re.compile(
    r"(?P<first>[a-z]{3})(?:\s*-\s*(?P<last>[a-z]{3}))?\s+(?P<open>\d{1,2}:\d{2})\s*-\s*"
    r"(?P<close>\d{1,2}:\d{2})"
)


def _zone(name: Any) -> ZoneInfo | None:
    if not isinstance(name, str) or not name or name != name.strip():
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _minutes(value: Any) -> int | None:
    """``"09:30"`` as 570 minutes after midnight (``"24:00"`` is 1440), else None."""
    if not isinstance(value, str) or not _TIME.fullmatch(value):
        return None
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def _range(value: Any) -> tuple[int, int] | None:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        return None
    opens, closes = _minutes(value[0]), _minutes(value[1])
    if opens is None or closes is None or opens >= 24 * 60 or opens >= closes:
        return None
    return opens, closes


def problem(value: Any) -> str | None:
    """What is wrong with an office-hours value, in a few words, or None if it is right."""
    if value is None:
        return None
    if not isinstance(value, dict):
        return "not a mapping"
    if _zone(value.get("timezone")) is None:
        return f"unknown time zone {value.get('timezone')!r}"
    for key, hours in value.items():
        if key == "timezone":
            continue
        if key not in WEEKDAYS:
            return f"{key!r} is not a weekday (mon ... sun)"
        if hours is not None and _range(hours) is None:
            return f"{key}: give [\"HH:MM\", \"HH:MM\"], opening before closing"
    return None


def is_valid(value: Any) -> bool:
    """The config's rule: None, or a mapping :func:`problem` finds nothing wrong with."""
    return problem(value) is None


def _as_utc(now: dt.datetime) -> dt.datetime:
    # Stored times (and utcnow()) are naive UTC.
    return now.replace(tzinfo=dt.timezone.utc) if now.tzinfo is None else now


def is_open(value: dict[str, Any] | None, now: dt.datetime) -> bool:
    """Whether the office is open at ``now`` (naive UTC or aware); None is always open."""
    if value is None:
        return True
    zone = _zone(value["timezone"])
    local = _as_utc(now).astimezone(zone)
    hours = _range(value.get(WEEKDAYS[local.weekday()]))
    if hours is None:
        return False
    minute = local.hour * 60 + local.minute
    return hours[0] <= minute < hours[1]


def next_opening(value: dict[str, Any] | None, now: dt.datetime) -> dt.datetime | None:
    """When the office next opens after ``now``, as an aware UTC time.

    None when it is open now, is always open (``value`` None), or never opens.
    """
    if value is None or is_open(value, now):
        return None
    zone = _zone(value["timezone"])
    now_utc = _as_utc(now)
    today = now_utc.astimezone(zone).date()
    for offset in range(8):
        day = today + dt.timedelta(days=offset)
        hours = _range(value.get(WEEKDAYS[day.weekday()]))
        if hours is None:
            continue
        opening = dt.datetime.combine(day, dt.time(hours[0] // 60, hours[0] % 60), tzinfo=zone)
        if opening > now_utc:
            return opening.astimezone(dt.timezone.utc)
    return None


# -- the dashboard's text form ---------------------------------------------------------------


def parse_text(text: str) -> dict[str, Any] | None:
    """The value a dashboard text stands for; blank is None (always open).

    One line names the time zone (``Europe/Berlin``); every other line gives a day
    or a run of days and the hours, like ``Mon-Fri 09:00-17:00``. Raises
    ``ValueError`` naming the line at fault.
    """
    lines = [line.strip() for line in (text or "").splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return None
    value: dict[str, Any] = {}
    for line in lines:
        match = _DAY_LINE.fullmatch(line.lower())
        if match is None:
            if _zone(line) is None:
                raise ValueError(f"'{line}' is neither a time zone (like Europe/Berlin) nor "
                                 "a day with hours (like Mon-Fri 09:00-17:00)")
            if "timezone" in value:
                raise ValueError("name the time zone once")
            value["timezone"] = line
            continue
        first, last = match["first"], match["last"] or match["first"]
        if first not in WEEKDAYS or last not in WEEKDAYS:
            raise ValueError(f"'{line}': days are Mon, Tue, Wed, Thu, Fri, Sat, Sun")
        hours = [match["open"].zfill(5), match["close"].zfill(5)]
        if _range(hours) is None:
            raise ValueError(f"'{line}': give times like 09:00-17:00, opening before closing")
        start, end = WEEKDAYS.index(first), WEEKDAYS.index(last)
        if end < start:
            raise ValueError(f"'{line}': write the days in order, like Mon-Fri")
        for day in WEEKDAYS[start:end + 1]:
            value[day] = hours
    if "timezone" not in value:
        raise ValueError("add a line with the time zone, like Europe/Berlin")
    if len(value) == 1:
        raise ValueError("add at least one day with hours, like Mon-Fri 09:00-17:00")
    return value


def to_text(value: dict[str, Any] | None) -> str:
    """The dashboard text of a value: the time zone, then runs of days with equal hours."""
    if not value:
        return ""
    lines = [str(value.get("timezone", ""))]
    run: list[str] = []

    def flush() -> None:
        if run:
            days = run[0].capitalize() + (f"-{run[-1].capitalize()}" if len(run) > 1 else "")
            opens, closes = value[run[0]]
            lines.append(f"{days} {opens}-{closes}")
            run.clear()

    for day in WEEKDAYS:
        hours = value.get(day)
        if hours is None:
            flush()
        elif run and list(value[run[-1]]) != list(hours):
            flush()
            run.append(day)
        else:
            run.append(day)
    flush()
    return "\n".join(lines)


__all__ = ["WEEKDAYS", "is_open", "is_valid", "next_opening", "parse_text", "problem",
           "to_text"]
