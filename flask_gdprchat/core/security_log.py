"""The security log: refusals a site owner may want to alert on.

Each line names the event, the reason and ids only (conversation, agent,
socket): never an e-mail address, a name, a token or message text. It goes to
the ``flask_gdprchat.security`` logger at WARNING, so it is on by default and a
host can route it to its alerting without the rest of the chat's logs.
"""
from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("flask_gdprchat.security")


def refused(event: str, reason: str, **ids: Any) -> None:
    """Record that ``event`` was refused for ``reason``; ``ids`` are numbers or kinds."""
    safe = {k: v for k, v in ids.items() if isinstance(v, (int, bool)) or v is None
            or (isinstance(v, str) and len(v) <= 64 and v.replace("_", "").isalnum())}
    details = " ".join(f"{k}={v}" for k, v in sorted(safe.items()))
    log.warning("refused %s: %s%s", event, reason, f" ({details})" if details else "")
