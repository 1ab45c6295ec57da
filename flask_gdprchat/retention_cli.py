"""Commands of the retention feature (added to ``flask gdprchat``)."""
from __future__ import annotations
