"""Which concurrency model the chat's own Socket.IO server runs in.

Left to itself, Flask-SocketIO picks gevent (or eventlet) merely because it is
installed. In a process that was not monkey-patched (``python app.py``, ``flask
run``) that choice breaks the chat: the Redis queue refuses every connection
("Redis requires a monkey patched socket library") and long-polling stalls now
and then, since the standard library still blocks the one thread gevent runs on.
So the extension decides from what the process really is, unless
``GDPRCHAT_ASYNC_MODE`` says.

Nothing here imports gevent or eventlet: a process that never imported their
``monkey``/``patcher`` module cannot be patched, and importing them would slow
every start-up (the CLI's included) for nothing.
"""
from __future__ import annotations

import logging
import sys

log = logging.getLogger("flask_gdprchat")

#: The values ``GDPRCHAT_ASYNC_MODE`` accepts besides ``None`` (decide alone).
ASYNC_MODES = ("threading", "gevent", "eventlet")


def patched_by() -> str | None:
    """``"gevent"`` or ``"eventlet"`` when that library patched ``socket`` in this
    process, else None."""
    gevent_monkey = sys.modules.get("gevent.monkey")
    if gevent_monkey is not None and gevent_monkey.is_module_patched("socket"):
        return "gevent"
    eventlet_patcher = sys.modules.get("eventlet.patcher")
    if eventlet_patcher is not None and eventlet_patcher.is_monkey_patched("socket"):
        return "eventlet"
    return None


def choose_async_mode(configured: str | None, *, message_queue: str | None) -> str:
    """The async mode for a Socket.IO server the extension creates.

    ``None`` follows the process: the library that monkey-patched it, otherwise
    ``"threading"``. An explicit mode is kept; when it is a green one, the process
    is not patched and a queue is configured, a warning says what will fail.
    """
    if configured is None:
        return patched_by() or "threading"
    if configured != "threading" and message_queue and patched_by() != configured:
        _warn_unpatched(configured)
    return configured


def _warn_unpatched(mode: str) -> None:
    import click

    # CLI commands build the app in a plain process and only publish on the queue,
    # which works there; only a serving process needs the patch.
    if click.get_current_context(silent=True) is not None:
        return
    log.warning(
        "GDPRCHAT_ASYNC_MODE is %r but this process is not monkey-patched by %s: the "
        "Redis queue will refuse connections. Patch first (for gevent: "
        "gevent.monkey.patch_all() before any other import), or leave the key at None.",
        mode, mode,
    )


__all__ = ["ASYNC_MODES", "choose_async_mode", "patched_by"]
