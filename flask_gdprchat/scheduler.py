"""Scheduling of the retention and campaign jobs."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    return None
