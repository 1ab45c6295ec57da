"""Open-loop latency: 500 messages per second offered, p50 and p99 of the answer.

Each message is sent at its scheduled time whatever the server is doing, and its
latency runs from that time to the acknowledgement, so a server that falls behind
is charged for the wait (no coordinated omission). The same load goes to the
product and to the raw store-and-relay server (bare Flask-SocketIO, one SQLite
commit per message), with 20 and with 200 visitors sharing the rate, plus 2 agent
sockets hearing each message. Server on core 0, this client on core 1.

    python bench/latency.py [--rate 500] [--seconds 5] [--visitors 20 200] [--mode gevent]
"""
from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _load  # noqa: E402
from _common import CLIENT_CORE, pin, start_server, table  # noqa: E402


def measure(kind: str, mode: str, visitors: int, rate: float, seconds: float
            ) -> tuple[float, float, float, int]:
    """(p50 ms, p99 ms, answered per second, failures)."""
    server = start_server(kind, mode)
    try:
        product = kind == "product"
        agents = _load.connect_agents(server.url, 2, product, lambda _m: None)
        chats = _load.start_chats(server.url, visitors)
        sockets = _load.connect_visitors(server.url, chats, product)
        _load.open_loop(sockets, chats, rate, 1.0)  # warm up
        samples, failures = _load.open_loop(sockets, chats, rate, seconds)
        latencies = [latency * 1000 for _when, latency in samples]
        for socket in sockets + agents:
            socket.close()
        return (_load.percentile(latencies, 50), _load.percentile(latencies, 99),
                len(samples) / seconds, failures)
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=500, help="messages per second offered")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--visitors", type=int, nargs="+", default=[20, 200])
    parser.add_argument("--mode", default="gevent", choices=("threading", "gevent"))
    args = parser.parse_args()
    pin(CLIENT_CORE)
    rows = []
    for visitors in args.visitors:
        for kind, label in (("product", "product"), ("store", "raw store+relay")):
            p50, p99, done, failures = measure(kind, args.mode, visitors, args.rate, args.seconds)
            rows.append([label, visitors, f"{p50:.1f}", f"{p99:.1f}", f"{done:,.0f}", failures])
            print(f"  {label:16} {visitors:4} visitors: p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  "
                  f"answered {done:6,.0f}/s", flush=True)
    print()
    print(f"Open loop at {args.rate:,.0f} msg/s offered ({args.mode}), latency to the ack")
    print(table(rows, ["server", "visitors", "p50 ms", "p99 ms", "answered/s", "failed"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
