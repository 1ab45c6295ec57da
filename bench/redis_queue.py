"""Two gevent processes on the Redis queue: where throughput bends, and after.

Visitors talk to process A, two agent sockets listen on process B, so every
message crosses the Redis queue. Open loop, the offered rate rising by half each
step from ``--start``: the knee is the highest rate still answered in full
(95% of it acknowledged, p99 under ``--p99-limit`` ms); then the goodput
(messages acknowledged within a second, and messages heard by the agents, per
second) at 1.5x the knee. Product on PostgreSQL against the raw queue: bare
Flask-SocketIO on the same Redis queue, storing each message with one commit in
the same PostgreSQL. Both server processes on core 0, this client on core 1.

    python bench/redis_queue.py [--visitors 50] [--seconds 3] [--start 100]
"""
from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _load  # noqa: E402
from _common import CLIENT_CORE, DEFAULT_REDIS, pin, postgres_scratch, start_server, table  # noqa: E402


def sweep(kind: str, args: argparse.Namespace) -> tuple[float, list[list[object]]]:
    db, drop = postgres_scratch()
    queue = os.environ.get("GDPRCHAT_BENCH_REDIS_URL", DEFAULT_REDIS)
    channel = f"gdprchat-bench-{uuid.uuid4().hex[:8]}"
    # B first: it creates the schema (product) alone, then A finds it there.
    b = start_server(kind, "gevent", db=db, queue=queue, channel=channel)
    a = start_server(kind, "gevent", db=db, queue=queue, channel=channel)
    rows: list[list[object]] = []
    knee = 0.0
    try:
        product = kind == "product"
        heard = [0]
        agents = _load.connect_agents(b.url, 2, product,
                                      lambda _m: heard.__setitem__(0, heard[0] + 1))
        chats = _load.start_chats(a.url, args.visitors)
        sockets = _load.connect_visitors(a.url, chats, product)
        _load.open_loop(sockets, chats, args.start, 1.0)  # warm up
        rate = args.start
        for _step in range(args.max_steps):
            before = heard[0]
            samples, failures = _load.open_loop(sockets, chats, rate, args.seconds)
            latencies = [latency * 1000 for _when, latency in samples]
            p99 = _load.percentile(latencies, 99)
            goodput = sum(1 for ms in latencies if ms <= 1000) / args.seconds
            relayed = (heard[0] - before) / 2 / args.seconds
            full = len(samples) >= 0.95 * rate * args.seconds and p99 <= args.p99_limit
            rows.append([kind, f"{rate:,.0f}", f"{goodput:,.0f}", f"{relayed:,.0f}",
                         f"{p99:,.0f}", failures, "yes" if full else "no"])
            print(f"  {kind:7} offered {rate:6,.0f}/s: goodput {goodput:6,.0f}/s, heard by "
                  f"agents {relayed:6,.0f}/s, p99 {p99:7,.0f} ms", flush=True)
            if not full:
                break
            knee = rate
            rate *= 1.5
            _load.open_loop(sockets, chats, 20, 2.0)  # let any backlog drain
        for socket in sockets + agents:
            socket.close()
    finally:
        a.stop()
        b.stop()
        drop()
    return knee, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=3.0, help="per step")
    parser.add_argument("--start", type=float, default=100, help="first offered rate")
    parser.add_argument("--max-steps", type=int, default=8)
    parser.add_argument("--p99-limit", type=float, default=250, help="ms")
    args = parser.parse_args()
    pin(CLIENT_CORE)
    rows, knees = [], {}
    for kind in ("product", "store"):
        knees[kind], kind_rows = sweep(kind, args)
        rows += kind_rows
    print()
    print(f"Redis queue, 2 gevent processes, PostgreSQL, {args.visitors} visitors")
    print(table(rows, ["server", "offered/s", "goodput/s", "heard/s", "p99 ms", "failed",
                       "answered in full"]))
    print(f"knee: product {knees['product']:,.0f}/s, raw queue {knees['store']:,.0f}/s; "
          f"ratio {knees['product'] / knees['store'] if knees['store'] else float('nan'):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
