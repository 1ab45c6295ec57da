"""How HTTP failures answer: a JSON error or a page, never a traceback.

A database failure (server down, a lock, a constraint) rolls the transaction
back whole, so nothing is stored half-way, and the visitor or agent is told to
try again. Logs name the kind of failure, never the values involved.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, jsonify, render_template, request
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from werkzeug.exceptions import HTTPException

from flask_gdprchat.core.failures import CONFLICT, UNAVAILABLE
from flask_gdprchat.core.state import session

log = logging.getLogger("flask_gdprchat")



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
    return render_template("gdprchat/error.html", status=status, title=title, message=message), status


def _http_error(exc: HTTPException) -> Any:
    if exc.response is not None:  # a view aborted with a ready page
        return exc.response
    return _answer(exc.code or 500, exc.name, exc.description or exc.name)


def _database_error(exc: SQLAlchemyError) -> Any:
    session().rollback()
    log.error("database failure in %s: %s", request.endpoint, type(exc).__name__)
    if isinstance(exc, IntegrityError):
        return _answer(409, "Conflict", CONFLICT)
    return _answer(503, "Service unavailable", UNAVAILABLE)


def register(bp: Blueprint) -> None:
    """Answer errors of every view under ``bp`` (and its children) this way."""
    bp.register_error_handler(HTTPException, _http_error)
    bp.register_error_handler(SQLAlchemyError, _database_error)
