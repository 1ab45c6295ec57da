"""A server for the benchmarks, in its own process: the product or a raw reference.

    python bench/_server.py KIND MODE --db URI [--queue redis://...] [--channel NAME]

KIND is ``product`` (the full extension), ``store`` (a bare Flask-SocketIO server
that stores each message with one commit and relays it) or ``relay`` (stores
nothing). MODE is ``threading`` (Werkzeug's threaded server) or ``gevent``
(monkey-patched first, gevent's WSGI server, as ``example_app/production.py``).
Every connection has TCP_NODELAY. Prints ``READY <port>`` once it listens; the
process runs until it is terminated.

The raw servers speak the chat's protocol where the load client needs it: the
``/gdprchat`` namespace, ``send_message`` acknowledged with ``{"ok": true, "id"}``
and relayed as ``message`` to every agent socket (a socket whose ``auth`` says
``{"agent": true}``).
"""
from __future__ import annotations

import sys

KIND, MODE = sys.argv[1], sys.argv[2]
if MODE == "gevent":
    from gevent import monkey

    monkey.patch_all()

import argparse  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask import Flask, Response, request  # noqa: E402

PASSWORD = "correct horse battery"
AGENT_EMAIL = "bench@example.test"
NAMESPACE = "/gdprchat"


def product_app(db_uri: str, queue: str | None, channel: str) -> Flask:
    from flask_gdprchat import GDPRChat
    from flask_gdprchat.core.config import DEFAULTS
    from flask_gdprchat.core.database import init_db
    from flask_gdprchat.core.models import Agent
    from flask_gdprchat.core.state import session
    from flask_gdprchat.team.agents import create_agent

    app = Flask("bench_product", instance_path=tempfile.mkdtemp(prefix="gdprchat-bench-"))
    config = {"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": db_uri,
              "GDPRCHAT_SCHEDULER": False, "GDPRCHAT_MESSAGE_QUEUE": queue,
              "GDPRCHAT_MESSAGE_QUEUE_CHANNEL": channel}
    # The load comes from one address: lift the per-address flood limits.
    for key in ("MESSAGES_PER_10S", "CONVERSATION_STARTS_PER_HOUR", "TYPING_PER_10S"):
        if key in DEFAULTS:
            config["GDPRCHAT_" + key] = 10**9
    app.config.update(config)
    GDPRChat(app)
    with app.app_context():
        init_db()
        if session().query(Agent).filter_by(email=AGENT_EMAIL).first() is None:
            create_agent(AGENT_EMAIL, "Bench Agent", PASSWORD, permissions=["send_messages"])
            session().commit()
    _add_raw_dump(app)
    return app


def _add_raw_dump(app: Flask) -> None:
    """``GET /_bench/raw-dump?conversation=ID``: the messages as CSV from a bare
    DB-API cursor, streamed: the reference for the export benchmark."""

    @app.get("/_bench/raw-dump")
    def raw_dump() -> Response:
        engine = app.extensions["gdprchat"].db.engine
        cid = int(request.args["conversation"])

        def rows():
            connection = engine.raw_connection()
            try:
                cursor = connection.cursor()
                marker = "%s" if engine.dialect.name == "postgresql" else "?"
                cursor.execute("SELECT id, author, text, created_at FROM gdprchat_messages "
                               f"WHERE conversation_id = {marker} ORDER BY id", (cid,))
                yield "id,author,text,created_at\n"
                while batch := cursor.fetchmany(1000):
                    yield "".join(f'{r[0]},{r[1]},"{r[2]}",{r[3]}\n' for r in batch)
            finally:
                connection.close()

        return Response(rows(), mimetype="text/csv")


def raw_app(kind: str, db_uri: str, queue: str | None, channel: str, mode: str) -> Flask:
    import sqlalchemy as sa
    from flask_socketio import SocketIO, join_room

    app = Flask(f"bench_{kind}")
    app.config["SECRET_KEY"] = "bench"
    options = {"async_mode": mode}
    if queue:
        options.update(message_queue=queue, channel=channel)
    sio = SocketIO(app, **options)
    table = None
    if kind == "store":
        engine = sa.create_engine(db_uri)
        meta = sa.MetaData()
        table = sa.Table("bench_raw_messages", meta,
                         sa.Column("id", sa.Integer, primary_key=True),
                         sa.Column("conversation_id", sa.Integer), sa.Column("text", sa.Text))
        meta.create_all(engine)
        if engine.dialect.name == "sqlite":
            with engine.connect() as c:
                c.exec_driver_sql("PRAGMA journal_mode=WAL")

    @sio.on("connect", namespace=NAMESPACE)
    def connect(auth=None):
        if auth and auth.get("agent"):
            join_room("agents", namespace=NAMESPACE)

    @sio.on("send_message", namespace=NAMESPACE)
    def send(data):
        mid = 0
        if table is not None:
            with engine.begin() as c:
                mid = c.execute(table.insert().values(
                    conversation_id=data["conversation_id"], text=data["text"])
                ).inserted_primary_key[0]
        sio.emit("message", {"id": mid, "conversation_id": data["conversation_id"],
                             "text": data["text"]}, namespace=NAMESPACE, to="agents")
        return {"ok": True, "id": mid}

    @app.post("/gdprchat/api/conversations")
    def start():  # what the load client calls to make a visitor
        start.counter = getattr(start, "counter", 0) + 1
        return {"conversation_id": start.counter, "visitor_token": "raw"}, 201

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=("product", "store", "relay"))
    parser.add_argument("mode", choices=("threading", "gevent"))
    parser.add_argument("--db", default=None)
    parser.add_argument("--queue", default=None)
    parser.add_argument("--channel", default="gdprchat-bench")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    db = args.db or f"sqlite:///{tempfile.mkdtemp(prefix='gdprchat-bench-')}/bench.sqlite3"
    if args.kind == "product":
        app = product_app(db, args.queue, args.channel)
    else:
        app = raw_app(args.kind, db, args.queue, args.channel, args.mode)

    if args.mode == "gevent":
        from example_app.production import NoDelayHandler

        sio = app.extensions["socketio"]
        import gevent

        def announce() -> None:
            while sio.wsgi_server is None or not sio.wsgi_server.started:
                gevent.sleep(0.01)
            print(f"READY {sio.wsgi_server.address[1]}", flush=True)

        gevent.spawn(announce)
        sio.run(app, host="127.0.0.1", port=args.port, handler_class=NoDelayHandler,
                log_output=False)
    else:
        from werkzeug.serving import make_server

        server = make_server("127.0.0.1", args.port, app, threaded=True)
        server.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        print(f"READY {server.server_port}", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
