"""unsubscribe views."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("unsubscribe", __name__)
