"""Fixtures shared by the rights tests."""
from __future__ import annotations
