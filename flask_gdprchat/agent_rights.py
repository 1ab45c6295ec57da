"""agent_rights views."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("agent_rights", __name__)
