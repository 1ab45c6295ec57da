"""Commands of the rights feature (added to ``flask gdprchat``)."""
from __future__ import annotations
