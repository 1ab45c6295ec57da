"""What a failed write tells the person who tried it (HTTP and sockets alike)."""
from __future__ import annotations

from flask_gdprchat.core.i18n import N_

# Marked for the catalog; shown through gettext where a visitor reads them.
UNAVAILABLE = N_("The chat cannot save right now; nothing was stored. Please try again shortly.")
CONFLICT = N_("That change conflicts with data saved meanwhile; nothing was stored. Reload and "
              "retry.")
