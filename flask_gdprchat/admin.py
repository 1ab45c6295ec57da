"""The Flask-Admin dashboard at ``P/admin/``."""
from __future__ import annotations

from typing import Any

from flask import Flask


def init_admin(app: Flask) -> Any:
    return None
