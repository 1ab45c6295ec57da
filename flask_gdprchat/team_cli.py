"""Commands of the team feature (added to ``flask gdprchat``)."""
from __future__ import annotations
