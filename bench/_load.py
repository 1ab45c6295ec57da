"""The benchmarks' load client: many Socket.IO sockets in one gevent process.

A small client of its own (Engine.IO 4 over WebSocket, namespace ``/gdprchat``)
instead of python-socketio's, which costs several threads per socket: one core
must drive up to 10,000 sockets here. Import it only in a monkey-patched process;
``python bench/_load.py`` runs an open loop for a benchmark that is not patched.
"""
from __future__ import annotations

if __name__ == "__main__":
    from gevent import monkey

    monkey.patch_all()  # before requests imports ssl

import contextlib
import itertools
import json
import os
import re
import time
from collections.abc import Callable
from typing import Any

import gevent
import gevent.event
import gevent.pool
import requests
import websocket

NAMESPACE = "/gdprchat"
PASSWORD = "correct horse battery"
AGENT_EMAIL = "bench@example.test"


class Socket:
    """One Socket.IO connection to ``/gdprchat``; ``call`` waits for the ack."""

    def __init__(self, url: str, auth: dict[str, Any] | None = None,
                 cookie: str | None = None,
                 on_message: Callable[[dict[str, Any]], None] | None = None) -> None:
        ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        headers = [f"Cookie: {cookie}"] if cookie else []
        self.ws = websocket.create_connection(ws_url, header=headers, timeout=30,
                                              enable_multithread=True)
        opening = self.ws.recv()
        assert opening.startswith("0"), opening
        self.ws.send(f"40{NAMESPACE}," + json.dumps(auth or {}))
        while True:
            packet = self.ws.recv()
            if packet == "2":
                self.ws.send("3")
            elif packet.startswith(f"40{NAMESPACE},"):
                break
            elif packet.startswith(f"44{NAMESPACE},"):
                raise ConnectionRefusedError(packet)
        self.on_message = on_message
        self._ids = itertools.count(1)
        self._waiting: dict[int, gevent.event.AsyncResult] = {}
        self.closed = False
        self._reader = gevent.spawn(self._read)

    def _read(self) -> None:
        ack_prefix, event_prefix = f"43{NAMESPACE},", f"42{NAMESPACE},"
        try:
            while True:
                packet = self.ws.recv()
                if packet == "2":
                    self.ws.send("3")
                elif packet.startswith(ack_prefix):
                    body = packet[len(ack_prefix):]
                    at = body.index("[")
                    waiter = self._waiting.pop(int(body[:at]), None)
                    if waiter is not None:
                        waiter.set(json.loads(body[at:])[0])
                elif packet.startswith(event_prefix) and self.on_message is not None:
                    name, *args = json.loads(packet[len(event_prefix):])
                    if name == "message":
                        self.on_message(args[0])
        except (websocket.WebSocketException, OSError):
            self.closed = True

    def call(self, event: str, data: dict[str, Any], timeout: float = 30) -> Any:
        ack_id = next(self._ids)
        waiter = gevent.event.AsyncResult()
        self._waiting[ack_id] = waiter
        self.ws.send(f"42{NAMESPACE},{ack_id}" + json.dumps([event, data]))
        return waiter.get(timeout=timeout)

    def close(self) -> None:
        self._reader.kill(block=False)
        with contextlib.suppress(websocket.WebSocketException, OSError):
            self.ws.close(timeout=0.1)


def agent_cookie(url: str) -> str:
    http = requests.Session()
    page = http.get(f"{url}/gdprchat/agent/login", timeout=30).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = http.post(f"{url}/gdprchat/agent/login", allow_redirects=False, timeout=30,
                       data={"email": AGENT_EMAIL, "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 302, answer.text
    return "; ".join(f"{c.name}={c.value}" for c in http.cookies)


def start_chats(url: str, n: int, parallel: int = 8) -> list[dict[str, Any]]:
    """``n`` chats started over HTTP: each ``{conversation_id, visitor_token}``."""
    http = requests.Session()
    pool = gevent.pool.Pool(parallel)

    def one(_i: int) -> dict[str, Any]:
        answer = http.post(f"{url}/gdprchat/api/conversations", timeout=60,
                           json={"consent": True, "policy_version": "1"})
        assert answer.status_code == 201, answer.text
        return answer.json()

    return list(pool.imap(one, range(n)))


def connect_visitors(url: str, chats: list[dict[str, Any]], product: bool,
                     parallel: int = 5) -> list[Socket]:
    """One socket per chat. Few at a time: the chat caps handshakes per address."""
    pool = gevent.pool.Pool(parallel)
    auth = (lambda c: {"visitor_token": c["visitor_token"]}) if product else (lambda c: {})
    return list(pool.imap(lambda chat: Socket(url, auth(chat)), chats))


def connect_agents(url: str, n: int, product: bool, on_message: Callable[[dict], None]
                   ) -> list[Socket]:
    if product:
        cookie = agent_cookie(url)
        return [Socket(url, cookie=cookie, on_message=on_message) for _ in range(n)]
    return [Socket(url, {"agent": True}, on_message=on_message) for _ in range(n)]


def closed_loop(visitors: list[Socket], chats: list[dict[str, Any]], seconds: float,
                timeout: float = 10) -> tuple[int, float, int]:
    """Each visitor sends, waits for its ack, sends again: (acks, seconds, stalled).

    A visitor whose ack does not come within ``timeout`` stops and counts as stalled.
    """
    counted = [0]
    stalled = [0]
    stop_at = [0.0]
    started = time.perf_counter()
    stop_at[0] = started + seconds

    def run(socket: Socket, chat: dict[str, Any]) -> None:
        i = 0
        while time.perf_counter() < stop_at[0]:
            try:
                ack = socket.call("send_message", {"conversation_id": chat["conversation_id"],
                                                   "text": f"closed loop message {i}"},
                                  timeout=timeout)
            except gevent.Timeout:
                stalled[0] += 1
                return
            assert ack.get("ok"), ack
            counted[0] += 1
            i += 1

    gevent.joinall([gevent.spawn(run, s, c) for s, c in zip(visitors, chats, strict=True)],
                   raise_error=True)
    return counted[0], min(time.perf_counter() - started, seconds), stalled[0]


def open_loop(visitors: list[Socket], chats: list[dict[str, Any]], rate: float,
              seconds: float, until: Callable[[], bool] | None = None,
              max_seconds: float = 600) -> tuple[list[tuple[float, float]], int]:
    """Offer ``rate`` messages per second in all, spread over the visitors, each
    sent at its scheduled time whatever the answers do.

    Returns ``([(scheduled wall time, latency)], failures)``; latency runs from the
    scheduled time, so a server that falls behind is charged for the wait.
    Stops after ``seconds`` or, with ``until``, once it returns True (within
    ``max_seconds``).
    """
    samples: list[tuple[float, float]] = []
    failures = [0]
    interval = len(visitors) / rate
    started = time.perf_counter()
    wall = time.time() - started
    deadline = started + (max_seconds if until else seconds)

    def send(socket: Socket, chat: dict[str, Any], when: float, i: int) -> None:
        try:
            ack = socket.call("send_message", {"conversation_id": chat["conversation_id"],
                                               "text": f"open loop message {i}"}, timeout=30)
            ok = bool(ack.get("ok"))
        except gevent.Timeout:
            ok = False
        if ok:
            samples.append((wall + when, time.perf_counter() - when))
        else:
            failures[0] += 1

    def visitor(k: int, socket: Socket, chat: dict[str, Any]) -> None:
        when = started + k * interval / len(visitors)
        i = 0
        group = gevent.pool.Group()
        while when < deadline and not (until and until()):
            delay = when - time.perf_counter()
            if delay > 0:
                gevent.sleep(delay)
            group.spawn(send, socket, chat, when, i)
            when += interval
            i += 1
        group.join(timeout=35)

    gevent.joinall([gevent.spawn(visitor, k, s, c)
                    for k, (s, c) in enumerate(zip(visitors, chats, strict=True))])
    return samples, failures[0]


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def main() -> None:
    """Open loop until a line arrives on stdin: ``python bench/_load.py URL RATE VISITORS``.

    Prints one JSON line: ``{"samples": [[wall time, latency], ...], "failures": n}``.
    """
    import sys

    url, rate, n = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    chats = start_chats(url, n)
    visitors = connect_visitors(url, chats, product=True)
    stop = gevent.event.Event()
    # A real thread waits on stdin: reading it here would block every greenlet.
    gevent.spawn(lambda: (gevent.get_hub().threadpool.apply(sys.stdin.readline), stop.set()))
    print("LOADING", flush=True)
    samples, failures = open_loop(visitors, chats, rate, 0, until=stop.is_set)
    print(json.dumps({"samples": samples, "failures": failures}), flush=True)
    os._exit(0)  # the server goes next; no need to close each socket politely


if __name__ == "__main__":
    main()
