"""Fixtures shared by the retention tests."""
from __future__ import annotations
