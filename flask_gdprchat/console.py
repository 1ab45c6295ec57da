"""console views."""
from __future__ import annotations

from flask import Blueprint

from .auth import agent_required

bp = Blueprint("console", __name__, url_prefix="/agent")


@bp.route("/")
@agent_required()
def inbox() -> str:
    return "inbox"
