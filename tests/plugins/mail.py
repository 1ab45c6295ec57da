"""A real SMTP server (aiosmtpd) that keeps what it receives, for mail tests."""
from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller


class Catcher:
    """An aiosmtpd handler keeping every message; ``wait_for(n)`` awaits delivery."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self._cond = threading.Condition()
        self.host = "127.0.0.1"
        self.port = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        with self._cond:
            self.messages.append(message)  # type: ignore[arg-type]
            self._cond.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> list[EmailMessage]:
        """Block until ``count`` messages arrived (fails the test after ``timeout``)."""
        with self._cond:
            ok = self._cond.wait_for(lambda: len(self.messages) >= count, timeout=timeout)
        assert ok, f"expected {count} message(s), got {len(self.messages)}"
        return list(self.messages)

    def to(self, address: str) -> list[EmailMessage]:
        """Messages addressed to ``address``."""
        return [m for m in self.messages if address in str(m["To"])]

    def clear(self) -> None:
        with self._cond:
            self.messages.clear()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server() -> Iterator[Catcher]:
    """A running SMTP server on a free port; apps made after it send mail to it."""
    catcher = Catcher()
    catcher.port = _free_port()
    controller = Controller(catcher, hostname=catcher.host, port=catcher.port)
    controller.start()
    try:
        yield catcher
    finally:
        controller.stop()


def body_text(message: EmailMessage) -> str:
    """The plain-text part of a message."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, "message has no text/plain part"
    return part.get_content()


def body_html(message: EmailMessage) -> str:
    """The HTML part of a message."""
    part = message.get_body(preferencelist=("html",))
    assert part is not None, "message has no text/html part"
    return part.get_content()
