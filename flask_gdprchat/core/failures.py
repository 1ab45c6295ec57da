"""What a failed write tells the person who tried it (HTTP and sockets alike)."""
from __future__ import annotations

UNAVAILABLE = "The chat cannot save right now; nothing was stored. Please try again shortly."
CONFLICT = "That change conflicts with data saved meanwhile; nothing was stored. Reload and retry."
