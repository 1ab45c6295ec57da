"""How HTTP failures answer: a JSON error or a page, never a traceback.

A database failure (server down, a lock, a constraint) rolls the transaction
back whole, so nothing is stored half-way, and the visitor or agent is told to
try again, in their language. Logs name the kind of failure, never the values
involved.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, jsonify, render_template, request
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from werkzeug.exceptions import HTTPException

from flask_gdprchat.core.failures import CONFLICT, UNAVAILABLE
from flask_gdprchat.core.i18n import N_, _, page_context
from flask_gdprchat.core.state import session

log = logging.getLogger("flask_gdprchat")

#: Our words for the usual HTTP errors (Werkzeug's own are English only).
HTTP_ERRORS = {
    400: (N_("Bad request"), N_("The request could not be understood. Check what you sent.")),
    403: (N_("Forbidden"), N_("You are not allowed to open this page.")),
    404: (N_("Not found"), N_("There is nothing at this address. Check the link.")),
    405: (N_("Method not allowed"), N_("This address does not accept that kind of request.")),
    410: (N_("Gone"), N_("What was here has been removed for good.")),
    413: (N_("Request too large"), N_("What you sent is too large.")),
    429: (N_("Too many requests"), N_("Too many requests in a short time. Please wait a "
                                      "little and try again.")),
    500: (N_("Server error"), N_("Something went wrong on our side. Please try again later.")),
}


def wants_json() -> bool:
    """API calls, JSON bodies and clients that prefer JSON get JSON; browsers get a page."""
    if request.is_json or (request.blueprint and request.blueprint.startswith("gdprchat.api")):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def _answer(status: int, title: str, message: str) -> Any:
    if wants_json():
        response = jsonify(error=message)
        response.status_code = status
        return response
    return render_template("gdprchat/error.html", **page_context(), status=status, title=title,
                           message=message), status


def _http_error(exc: HTTPException) -> Any:
    if exc.response is not None:  # a view aborted with a ready page
        return exc.response
    code = exc.code or 500
    title, message = exc.name, exc.description or exc.name
    ours = HTTP_ERRORS.get(code)
    if ours:
        title = _(ours[0])
        # A description a view gave on purpose is kept; Werkzeug's stock one is replaced.
        if exc.description in (None, type(exc).description):
            message = _(ours[1])
    return _answer(code, title, message)


def _database_error(exc: SQLAlchemyError) -> Any:
    session().rollback()
    log.error("database failure in %s: %s", request.endpoint, type(exc).__name__)
    if isinstance(exc, IntegrityError):
        return _answer(409, _("Conflict"), _(CONFLICT))
    return _answer(503, _("Service unavailable"), _(UNAVAILABLE))


def register(bp: Blueprint) -> None:
    """Answer errors of every view under ``bp`` (and its children) this way."""
    bp.register_error_handler(HTTPException, _http_error)
    bp.register_error_handler(SQLAlchemyError, _database_error)
