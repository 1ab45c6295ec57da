"""How a failing Socket.IO handler answers: a refused connect or ``{ok: false}``."""
from __future__ import annotations

import contextlib
import logging
from typing import Any

from flask import request
from sqlalchemy.exc import SQLAlchemyError

from flask_gdprchat.core.failures import UNAVAILABLE
from flask_gdprchat.core.state import session

log = logging.getLogger("flask_gdprchat")


def socket_error(exc: Exception) -> Any:
    """Socket.IO handlers: roll back, refuse a connect, or ack ``{ok: false}``."""
    with contextlib.suppress(SQLAlchemyError):
        session().rollback()
    log.error("chat event %s failed: %s", getattr(request, "event", {}).get("message"),
              type(exc).__name__)
    if getattr(request, "event", {}).get("message") == "connect":
        return False  # a failed connect must never count as accepted
    message = UNAVAILABLE if isinstance(exc, SQLAlchemyError) else "the server could not do that"
    return {"ok": False, "error": message}
