"""Commands of the campaigns feature (added to ``flask gdprchat``)."""
from __future__ import annotations
