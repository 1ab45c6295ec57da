"""Fixtures shared by the chat tests: starting chats, real Socket.IO clients."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import socketio

PASSWORD = "correct horse battery"
NAMESPACE = "/gdprchat"


def start_chat(base_url: str, **fields: Any) -> dict[str, Any]:
    """POST the pre-chat form over HTTP with consent; returns the 201 body."""
    body = {"consent": True, "policy_version": "1", **fields}
    response = requests.post(f"{base_url}/gdprchat/api/conversations", json=body, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def agent_cookie(base_url: str, email: str, password: str = PASSWORD) -> str:
    """Sign in through the live server's login form; the session cookie header."""
    import re

    http = requests.Session()
    page = http.get(f"{base_url}/gdprchat/agent/login", timeout=10)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = http.post(
        f"{base_url}/gdprchat/agent/login",
        data={"email": email, "password": password, "csrf_token": token},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text
    return "; ".join(f"{c.name}={c.value}" for c in http.cookies)


class Client:
    """A real python-socketio client with ``wait_for(event)`` on what it received."""

    def __init__(self) -> None:
        self.sio = socketio.SimpleClient()
        self.seen: list[tuple[str, Any]] = []

    def connect(self, url: str, transports: tuple[str, ...] = ("websocket",), **kwargs: Any) -> Client:
        self.sio.connect(url, namespace=NAMESPACE, transports=list(transports), wait_timeout=10,
                         **kwargs)
        return self

    def call(self, event: str, data: Any, timeout: float = 10) -> Any:
        return self.sio.call(event, data, timeout=timeout)

    def emit(self, event: str, data: Any) -> None:
        self.sio.emit(event, data)

    def wait_for(self, event: str, predicate: Callable[[Any], bool] = lambda _d: True,
                 timeout: float = 10) -> Any:
        """The first ``event`` whose data matches, waiting for it to arrive."""
        for name, data in self.seen:
            if name == event and predicate(data):
                return data
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {event!r} arrived; saw {[n for n, _ in self.seen]}"
            try:
                name, *args = self.sio.receive(timeout=remaining)
            except socketio.exceptions.TimeoutError:
                raise AssertionError(
                    f"no {event!r} arrived; saw {[n for n, _ in self.seen]}"
                ) from None
            data = args[0] if args else None
            self.seen.append((name, data))
            if name == event and predicate(data):
                return data

    def drain(self, timeout: float = 0.5) -> list[tuple[str, Any]]:
        """Everything that arrives within ``timeout`` (to show nothing else came)."""
        try:
            while True:
                name, *args = self.sio.receive(timeout=timeout)
                self.seen.append((name, args[0] if args else None))
        except socketio.exceptions.TimeoutError:
            return self.seen

    def close(self) -> None:
        ws = getattr(self.sio.client.eio, "ws", None) if self.sio.client else None
        if ws is not None:
            # Once messages have flowed, Werkzeug's development server leaves the
            # WebSocket close frame unanswered and the client would wait 3 s for it
            # before giving up; the socket is closed either way.
            close = ws.close
            ws.close = lambda *args, **kwargs: close(*args, **{**kwargs, "timeout": 0.1})
        self.sio.disconnect()


@pytest.fixture
def chat_sockets() -> Iterator[Callable[[], Client]]:
    """``chat_sockets()`` makes a client; all are disconnected after the test."""
    made: list[Client] = []

    def make() -> Client:
        client = Client()
        made.append(client)
        return client

    yield make
    # Close them side by side: against the development server each close waits
    # out the WebSocket closing handshake's timeout.
    closers = [threading.Thread(target=client.close) for client in made]
    for thread in closers:
        thread.start()
    for thread in closers:
        thread.join(timeout=15)


@pytest.fixture
def chat_server(app: Any, live_server: Any, make_agent: Any) -> Any:
    """The default app served for real, with an agent ``agent@example.test``."""
    make_agent("agent@example.test", name="Alice Agent",
               permissions=["send_messages", "edit_messages"])
    return live_server(app)


@pytest.fixture
def chat_visitor(chat_sockets: Any) -> Callable[..., Any]:
    """``visitor(url, **fields)`` -> (chat body, connected client)."""

    def open_chat(url: str, **fields: Any) -> tuple[dict[str, Any], Client]:
        chat = start_chat(url, **fields)
        client = chat_sockets().connect(url, auth={"visitor_token": chat["visitor_token"]})
        return chat, client

    return open_chat


@pytest.fixture
def chat_agent(chat_sockets: Any) -> Callable[..., Client]:
    """``agent(url, email)`` -> a connected agent client signed in via the login form."""

    def open_console(url: str, email: str = "agent@example.test") -> Client:
        return chat_sockets().connect(url, headers={"Cookie": agent_cookie(url, email)})

    return open_console
