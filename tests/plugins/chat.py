"""Fixtures shared by the chat tests."""
from __future__ import annotations
