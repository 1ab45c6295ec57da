"""Messages per second: the full chat path against a bare store-and-relay server.

Both servers run the same stack (Flask-SocketIO, threading mode, Werkzeug, SQLite
in WAL mode); a visitor sends messages one after another and waits for each
acknowledgement while an agent socket receives every relayed message. The bare
server only inserts the message and relays it; the full path also checks the
visitor's token, the restriction and the flood limit, and updates activity and
unread counts. Usage: ``python bench/message_path.py [messages]``.
"""
from __future__ import annotations

import os
import re
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import requests  # noqa: E402
import socketio  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from flask import Flask  # noqa: E402
from flask_socketio import SocketIO, join_room  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

PASSWORD = "correct horse battery"


def serve(app: Flask, nodelay: bool) -> tuple[str, object]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    if nodelay:
        # Werkzeug leaves Nagle on; Linux passes the listening socket's option to
        # accepted ones. Without it each small frame waits for a delayed ACK.
        server.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server


def run(url: str, n: int, visitor_kwargs: dict, agent_kwargs: dict, payload: dict) -> float:
    received = threading.Semaphore(0)
    agent = socketio.Client()
    agent.on("message", lambda _data: received.release(), namespace="/gdprchat")
    agent.connect(url, namespaces=["/gdprchat"], transports=["websocket"], **agent_kwargs)
    visitor = socketio.SimpleClient()
    visitor.connect(url, namespace="/gdprchat", transports=["websocket"], **visitor_kwargs)
    for _ in range(20):  # warm up
        visitor.call("send_message", payload)
    for _ in range(20):
        received.acquire(timeout=10)
    start = time.perf_counter()
    for i in range(n):
        ack = visitor.call("send_message", {**payload, "text": f"message {i}"})
        assert ack["ok"], ack
    for _ in range(n):
        assert received.acquire(timeout=30), "a relayed message did not arrive"
    elapsed = time.perf_counter() - start
    visitor.disconnect()
    agent.disconnect()
    return n / elapsed


def bare(db_path: str, n: int, nodelay: bool) -> float:
    app = Flask("bare")
    app.config["SECRET_KEY"] = "bench"
    sio = SocketIO(app, async_mode="threading")
    engine = sa.create_engine(f"sqlite:///{db_path}")
    meta = sa.MetaData()
    table = sa.Table("messages", meta, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("conversation_id", sa.Integer), sa.Column("text", sa.Text))
    meta.create_all(engine)
    with engine.connect() as c:
        c.exec_driver_sql("PRAGMA journal_mode=WAL")

    @sio.on("connect", namespace="/gdprchat")
    def connect(auth=None):
        join_room("room", namespace="/gdprchat")

    @sio.on("send_message", namespace="/gdprchat")
    def send(data):
        with engine.begin() as c:
            mid = c.execute(table.insert().values(conversation_id=1, text=data["text"])).inserted_primary_key[0]
        sio.emit("message", {"id": mid, "text": data["text"]}, namespace="/gdprchat", to="room")
        return {"ok": True}

    url, server = serve(app, nodelay)
    try:
        return run(url, n, {}, {}, {"conversation_id": 1, "text": "warm up"})
    finally:
        server.shutdown()


def full(instance: str, n: int, nodelay: bool) -> float:
    from flask_gdprchat import GDPRChat
    from flask_gdprchat.core.database import init_db
    from flask_gdprchat.core.state import session
    from flask_gdprchat.team.agents import create_agent

    app = Flask("full", instance_path=instance)
    app.config.update(SECRET_KEY="bench", GDPRCHAT_SCHEDULER=False,
                      GDPRCHAT_MESSAGES_PER_10S=1_000_000)
    GDPRChat(app)
    with app.app_context():
        init_db()
        create_agent("bench@example.test", "Bench Agent", PASSWORD)
        session().commit()
    url, server = serve(app, nodelay)
    try:
        chat = requests.post(f"{url}/gdprchat/api/conversations",
                             json={"consent": True, "policy_version": "1"}).json()
        http = requests.Session()
        page = http.get(f"{url}/gdprchat/agent/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        http.post(f"{url}/gdprchat/agent/login", allow_redirects=False,
                  data={"email": "bench@example.test", "password": PASSWORD, "csrf_token": token})
        cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
        return run(url, n, {"auth": {"visitor_token": chat["visitor_token"]}},
                   {"headers": {"Cookie": cookie}},
                   {"conversation_id": chat["conversation_id"], "text": "warm up"})
    finally:
        server.shutdown()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    for nodelay in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            raw = bare(os.path.join(tmp, "bare.sqlite3"), n, nodelay)
            ours = full(os.path.join(tmp, "full"), n, nodelay)
        print(f"TCP_NODELAY {'on ' if nodelay else 'off'}: bare store-and-relay {raw:7.1f} msgs/s, "
              f"full chat path {ours:7.1f} msgs/s, ratio {ours / raw:.2f}")


if __name__ == "__main__":
    main()
