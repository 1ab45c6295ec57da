"""Keep link tokens out of the access log.

Privacy-center and unsubscribe links carry their token in the path, and the
development server (and any server logging through the ``werkzeug`` logger)
writes the request line at INFO, the default level. A filter on that logger
replaces the token with ``[token]`` before the line is written.
"""
from __future__ import annotations

import logging
import re

#: Path segments after which the next segment is a secret link token.
_TOKEN_PAGES = ("privacy", "unsubscribe")
#: Pages under those paths whose name is not a token.
_NOT_TOKENS = {"request", "policy"}


class TokenRedactingFilter(logging.Filter):
    """Rewrites request lines under one URL prefix; every record still passes."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix
        self._pattern = re.compile(
            re.escape(prefix) + r"/(" + "|".join(_TOKEN_PAGES) + r")/([^/?\s\"]+)"
        )

    def _redact(self, text: str) -> str:
        def repl(match: re.Match[str]) -> str:
            if match.group(2) in _NOT_TOKENS:
                return match.group(0)
            return f"{self.prefix}/{match.group(1)}/[token]"

        return self._pattern.sub(repl, text)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = self._redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(self._redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install(prefix: str) -> None:
    """Put the filter on the ``werkzeug`` logger once per prefix."""
    logger = logging.getLogger("werkzeug")
    if not any(isinstance(f, TokenRedactingFilter) and f.prefix == prefix for f in logger.filters):
        logger.addFilter(TokenRedactingFilter(prefix))
