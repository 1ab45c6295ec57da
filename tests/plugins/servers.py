"""Real servers for Socket.IO and browser tests.

``live_server(app)`` serves an app (HTTP and Socket.IO, threading mode) from a
thread of the test process on a free port, so the test can share its database.
``server_process(...)`` starts ``tests/serve.py`` in a separate process, under
Werkzeug's threads or, with ``GDPRCHAT_TEST_SERVER=gevent``, monkey-patched under gevent.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import pytest
from flask import Flask
from werkzeug.serving import make_server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    app: Flask
    port: int
    _server: Any = None
    _thread: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)


@pytest.fixture
def live_server() -> Iterator[Callable[[Flask], LiveServer]]:
    """``live_server(app)`` -> a running server with ``.url``; stopped after the test."""
    started: list[LiveServer] = []

    def start(app: Flask) -> LiveServer:
        port = free_port()
        server = make_server("127.0.0.1", port, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        live = LiveServer(app, port, server, thread)
        started.append(live)
        return live

    yield start
    for live in started:
        live.stop()


class ServerProcess(NamedTuple):
    url: str
    process: subprocess.Popen
    #: The Socket.IO async mode the server reported ("threading", "gevent").
    async_mode: str


@pytest.fixture
def server_process(tmp_path: Any) -> Iterator[Callable[..., ServerProcess]]:
    """``server_process(env={...})`` starts ``tests/serve.py`` in its own process.

    Returns ``(url, process, async_mode)``; the process is stopped after the test.
    """
    procs: list[subprocess.Popen] = []
    logs: list[Any] = []

    def start(env: dict[str, str] | None = None) -> ServerProcess:
        port = free_port()
        full_env = {**os.environ, **(env or {}), "GDPRCHAT_TEST_PORT": str(port)}
        log = open(tmp_path / f"server-{port}.log", "w")  # noqa: SIM115 (closed at teardown)
        logs.append(log)
        proc = subprocess.Popen(
            [sys.executable, os.path.join(os.path.dirname(__file__), "..", "serve.py")],
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        procs.append(proc)
        # serve.py prints one line once its socket listens: wait for that event.
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.startswith("READY"):
            proc.kill()
            raise RuntimeError(
                f"server did not start: {line!r}; log: {(tmp_path / f'server-{port}.log').read_text()}"
            )
        return ServerProcess(f"http://127.0.0.1:{port}", proc, line.split()[2])

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()
    for log in logs:
        log.close()
