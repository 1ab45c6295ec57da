"""Messages per second with encryption at rest on and off, in the same run.

The product server (``bench/_server.py``, gevent, SQLite in WAL mode) takes a
closed loop: each of V visitors sends a message, waits for its acknowledgement
and sends again, until M messages are acknowledged, and the clock stops once an
agent socket has heard every one. With sealing on (the default), each message is
sealed with AES-256-GCM under its contact's data key and written with one more
UPDATE in the same transaction; with it off (``seal_at_rest = False`` on the
app's state, before serving) the text is stored plain. The two settings take
turns, round after round, each on a fresh database in a temporary directory, so
that noise on the machine falls on both; the median of each is reported, with the
ratio and whether sealing keeps 90 % of the plain rate. Beside the rate, the
server's CPU time per message is read from /proc: the server is bound by its one
core, so when the two ratios agree the difference is work the server did, not
time it waited. After each round the database is read to check that its messages
were stored as the setting says.
The server runs on core 0, this client on core 1, over 127.0.0.1.

    python bench/encryption.py [messages per round] [--rounds 7] [--visitors 20] [--mode gevent]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

SERVE = "--serve"


def serve(seal: str, mode: str, db: str) -> None:
    """The server child: ``_server.py``'s product, its sealing switched before it serves."""
    sys.argv = [str(Path(__file__).with_name("_server.py")), "product", mode, "--db", db]
    import _server  # reads sys.argv, and monkey-patches first under gevent

    build = _server.product_app

    def product_app(*args: object) -> object:
        app = build(*args)
        app.extensions["gdprchat"].seal_at_rest = seal == "on"
        return app

    _server.product_app = product_app
    _server.main()


if __name__ == "__main__" and sys.argv[1:2] == [SERVE]:
    serve(*sys.argv[2:5])
    sys.exit(0)

from gevent import monkey  # noqa: E402

monkey.patch_all()  # the load client, as in throughput.py

import argparse  # noqa: E402
import os  # noqa: E402
import sqlite3  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import _load  # noqa: E402
import gevent  # noqa: E402
from _common import CLIENT_CORE, ROOT, SERVER_CORE, Server, pin, table  # noqa: E402

SETTINGS = (True, False)  # sealing on, then off, in every round


def start(seal: bool, mode: str, tmp: str) -> Server:
    """This script's server child on core 0, as ``_common.start_server`` starts
    ``_server.py``; its temporary files (instance, keys, database) go under ``tmp``."""
    db = f"sqlite:///{tmp}/bench.sqlite3"
    log = Path(tmp) / "server.log"
    with open(log, "w") as errors:
        process = subprocess.Popen(
            [sys.executable, __file__, SERVE, "on" if seal else "off", mode, db],
            stdout=subprocess.PIPE, stderr=errors, text=True, cwd=ROOT,
            env={**os.environ, "TMPDIR": tmp}, preexec_fn=lambda: pin(SERVER_CORE))
    line = process.stdout.readline() if process.stdout else ""
    if not line.startswith("READY"):
        process.kill()
        raise RuntimeError(f"server (sealing {seal}) did not start: {log.read_text()[-2000:]}")
    return Server(f"http://127.0.0.1:{line.split()[1]}", process, log)


def send(sockets: list[_load.Socket], chats: list[dict], messages: int,
         heard: list[int]) -> float:
    """``messages`` shared among the visitors, each sent once the last is acknowledged;
    messages per second until the agent has heard them all."""
    before = heard[0]
    shares = [messages // len(sockets) + (k < messages % len(sockets))
              for k in range(len(sockets))]

    def run(socket: _load.Socket, chat: dict, count: int) -> None:
        for i in range(count):
            ack = socket.call("send_message", {"conversation_id": chat["conversation_id"],
                                               "text": f"Message {i}: could I book a "
                                                       "check-up for next Tuesday?"})
            assert ack.get("ok"), ack

    started = time.perf_counter()
    gevent.joinall([gevent.spawn(run, s, c, n) for s, c, n in zip(sockets, chats, shares,
                                                                   strict=True)],
                   raise_error=True)
    with gevent.Timeout(30, RuntimeError("the agent did not hear every message")):
        while heard[0] - before < messages:
            gevent.sleep(0.001)
    return messages / (time.perf_counter() - started)


def stored(tmp: str) -> tuple[int, int]:
    """(messages stored sealed, messages stored plain) in a round's database."""
    with sqlite3.connect(f"{tmp}/bench.sqlite3") as db:
        return db.execute("SELECT COUNT(text_sealed), COUNT(*) - COUNT(text_sealed) "
                          "FROM gdprchat_messages").fetchone()


def measure(seal: bool, mode: str, visitors: int, messages: int) -> tuple[float, float]:
    """(messages per second, server CPU microseconds per message) of one round."""
    with tempfile.TemporaryDirectory(prefix="gdprchat-bench-encryption-") as tmp:
        server = start(seal, mode, tmp)
        try:
            heard = [0]
            agents = _load.connect_agents(server.url, 1, True,
                                          lambda _m: heard.__setitem__(0, heard[0] + 1))
            chats = _load.start_chats(server.url, visitors)
            sockets = _load.connect_visitors(server.url, chats, product=True)
            _load.closed_loop(sockets, chats, 0.5)  # warm up: pools, caches, data keys
            gevent.sleep(0.2)  # the warm-up's last relays arrive before the count starts
            cpu = server.cpu_seconds()
            rate = send(sockets, chats, messages, heard)
            cpu_us = (server.cpu_seconds() - cpu) / messages * 1e6
            for socket in sockets + agents:
                socket.close()
        finally:
            server.stop()
        sealed, plain = stored(tmp)
    if (sealed if seal else plain) == 0 or (plain if seal else sealed) != 0:
        raise RuntimeError(f"sealing {'on' if seal else 'off'}, yet {sealed} messages "
                           f"stored sealed and {plain} plain")
    return rate, cpu_us


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("messages", type=int, nargs="?", default=5000,
                        help="messages acknowledged per round and setting")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--visitors", type=int, default=20)
    parser.add_argument("--mode", default="gevent", choices=("threading", "gevent"))
    args = parser.parse_args()
    pin(CLIENT_CORE)

    rates: dict[bool, list[float]] = {seal: [] for seal in SETTINGS}
    cpu: dict[bool, list[float]] = {seal: [] for seal in SETTINGS}
    for r in range(1, args.rounds + 1):
        for seal in SETTINGS:
            rate, cpu_us = measure(seal, args.mode, args.visitors, args.messages)
            rates[seal].append(rate)
            cpu[seal].append(cpu_us)
        print(f"  round {r}: sealing on {rates[True][-1]:7,.0f}  off {rates[False][-1]:7,.0f}"
              f" msg/s; server CPU on {cpu[True][-1]:5.0f}  off {cpu[False][-1]:5.0f}"
              " us/msg", flush=True)
    on, off = statistics.median(rates[True]), statistics.median(rates[False])
    cpu_on, cpu_off = statistics.median(cpu[True]), statistics.median(cpu[False])
    print()
    print(f"Closed loop, {args.mode}, {args.visitors} visitors, {args.messages:,} messages "
          f"per round, median of {args.rounds} rounds (messages acknowledged per second)")
    print(table([["on (AES-256-GCM)", f"{on:,.0f}", f"{min(rates[True]):,.0f}",
                  f"{max(rates[True]):,.0f}", f"{cpu_on:,.0f}"],
                 ["off (plain)", f"{off:,.0f}", f"{min(rates[False]):,.0f}",
                  f"{max(rates[False]):,.0f}", f"{cpu_off:,.0f}"]],
                ["sealing", "median msg/s", "min", "max", "server CPU us/msg"]))
    print(f"ratio off/on {off / on:.3f} (on/off {on / off:.3f}); within 10 % "
          f"(on >= 0.90 x off): {'yes' if on >= 0.90 * off else 'no'}; "
          f"server CPU per message on/off {cpu_on / cpu_off:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
