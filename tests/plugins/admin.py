"""Fixtures shared by the admin tests."""
from __future__ import annotations
