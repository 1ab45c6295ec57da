"""Idle visitors: memory per connected socket, and latency with them connected.

N visitors connect and stay idle (2,000 by default; ``--visitors 10000`` for the
full size) while 200 messages per second come from 20 other visitors, open loop.
Prints the server's resident memory growth per idle connection (RSS after all
connected minus RSS before, over N) and the p99 of the answers, for the product
and for the raw relay (bare Flask-SocketIO holding the same sockets, storing
nothing). gevent, server on core 0, this client on core 1.

    python bench/idle.py [--visitors 2000] [--rate 200] [--seconds 5]
"""
from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _load  # noqa: E402
from _common import CLIENT_CORE, pin, start_server, table  # noqa: E402

ACTIVE = 20


def measure(kind: str, idle: int, rate: float, seconds: float) -> tuple[float, float, float]:
    """(KiB per idle connection, p50 ms, p99 ms)."""
    server = start_server(kind, "gevent")
    try:
        product = kind == "product"
        agents = _load.connect_agents(server.url, 2, product, lambda _m: None)
        active_chats = _load.start_chats(server.url, ACTIVE)
        active = _load.connect_visitors(server.url, active_chats, product)
        _load.open_loop(active, active_chats, rate, 1.0)  # warm up every code path
        idle_chats = _load.start_chats(server.url, idle)
        before = server.rss_kib()
        sockets = _load.connect_visitors(server.url, idle_chats, product)
        per_socket = (server.rss_kib() - before) / idle
        samples, _failures = _load.open_loop(active, active_chats, rate, seconds)
        latencies = [latency * 1000 for _when, latency in samples]
        for socket in sockets + active + agents:
            socket.close()
        return per_socket, _load.percentile(latencies, 50), _load.percentile(latencies, 99)
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=2000, help="idle visitors")
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    pin(CLIENT_CORE)
    # Each socket is a file descriptor on both sides.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, args.visitors * 2 + 1024)),
                                                hard))
    rows = []
    for kind, label in (("product", "product"), ("relay", "raw relay")):
        per_socket, p50, p99 = measure(kind, args.visitors, args.rate, args.seconds)
        rows.append([label, f"{per_socket:.1f}", f"{p50:.1f}", f"{p99:.1f}"])
        print(f"  {label:10} {per_socket:6.1f} KiB per idle socket, p50 {p50:.1f} ms, "
              f"p99 {p99:.1f} ms", flush=True)
    print()
    print(f"{args.visitors:,} idle visitors + {args.rate:,.0f} msg/s from {ACTIVE} others (gevent)")
    print(table(rows, ["server", "KiB/idle socket", "p50 ms", "p99 ms"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
