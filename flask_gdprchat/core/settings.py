"""Settings in force: the dashboard's saved values laid over the config."""
from __future__ import annotations

from typing import Any

from flask import g
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from flask_gdprchat.core import audit
from flask_gdprchat.core.config import (
    RUNTIME_KEYS,
    check_prechat,
    check_wording_languages,
    config_value,
    validate_value,
)
from flask_gdprchat.core.models import SavedSetting
from flask_gdprchat.core.state import session


def load_saved_settings() -> dict[str, Any]:
    """Every saved override, by key (without the ``GDPRCHAT_`` prefix)."""
    try:
        rows = session().execute(select(SavedSetting.key, SavedSetting.value)).all()
    except SQLAlchemyError:
        # Before init-db there is no table: the config alone is in force.
        session().rollback()
        return {}
    return {key: value for key, value in rows if key in RUNTIME_KEYS}


def save_settings(values: dict[str, Any], *, agent_id: int | None = None) -> list[str]:
    """Validate and save overrides, audit which keys changed, and commit.

    Returns the keys that changed. Raises ``ConfigError`` naming a bad key, and
    then saves nothing.
    """
    for key, value in values.items():
        if key not in RUNTIME_KEYS:
            raise KeyError(f"GDPRCHAT_{key} cannot be changed at run time")
        validate_value(key, value)
    if "PRECHAT_FIELDS" in values or "PRECHAT_REQUIRED" in values:
        check_prechat(
            values.get("PRECHAT_FIELDS", setting("PRECHAT_FIELDS")),
            values.get("PRECHAT_REQUIRED", setting("PRECHAT_REQUIRED")),
        )
    for key in ("CONSENT_TEXT", "MARKETING_CONSENT_TEXT"):
        if key in values:
            check_wording_languages(key, values[key], config_value("LANGUAGES"))
    db = session()
    changed = []
    for key, value in values.items():
        row = db.get(SavedSetting, key)
        if row is None:
            if value == setting(key):
                continue  # what is in force already: a form sends every field
            db.add(SavedSetting(key=key, value=value, updated_by_agent_id=agent_id))
        elif row.value != value:
            row.value = value
            row.updated_by_agent_id = agent_id
        else:
            continue
        changed.append(key)
    if changed:
        audit.record("settings_changed", actor=f"agent:{agent_id}" if agent_id else "system",
                     keys=sorted(changed))
    db.commit()
    forget_cached_settings()
    return changed


def setting(key: str) -> Any:
    """The value in force for ``key``: the dashboard's saved value over the config.

    Saved values are read once per request (or app context), so every process
    sees a change at its next request without a restart.
    """
    if key not in RUNTIME_KEYS:
        return config_value(key)
    saved = _saved_settings()
    return saved[key] if key in saved else config_value(key)


def _saved_settings() -> dict[str, Any]:
    cached: dict[str, Any] | None = g.get("_gdprchat_settings")
    if cached is None:
        cached = load_saved_settings()
        g._gdprchat_settings = cached
    return cached


def forget_cached_settings() -> None:
    """Drop this context's cached saved settings (after a save)."""
    g.pop("_gdprchat_settings", None)
