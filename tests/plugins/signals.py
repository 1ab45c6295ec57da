"""``listen_to(signal)``: record what a blinker signal sends during a block."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from blinker import Signal


@contextmanager
def _listen(signal: Signal) -> Iterator[list[dict[str, Any]]]:
    received: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        received.append({"sender": sender, **kwargs})

    signal.connect(receiver, weak=False)
    try:
        yield received
    finally:
        signal.disconnect(receiver)


@pytest.fixture
def listen_to() -> Callable[[Signal], Any]:
    """``with listen_to(signals.subject_erased) as sent: ...`` then inspect ``sent``."""
    return _listen
