"""Closed-loop throughput: the chat against a raw store-and-relay and a raw relay.

Each of V visitors (20, 100, 200) sends a message, waits for its
acknowledgement and sends again, while 2 agent sockets receive every relayed
message. Three servers take the same load, in the same run, under threads and
under gevent:

- product: the full chat (token, restriction, flood limit, masking, activity);
- raw store-and-relay: bare Flask-SocketIO storing each message with one SQLite
  commit, then relaying it;
- raw relay: bare Flask-SocketIO relaying, nothing stored.

Prints messages per second and the product's ratio to each raw server.
The server runs on core 0, this client on core 1, over 127.0.0.1.

    python bench/throughput.py [--seconds 3] [--visitors 20 100 200] [--modes threading gevent]
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

KINDS = ("product", "store", "relay")


def measure(kind: str, mode: str, visitors: int, seconds: float) -> tuple[float, float, int]:
    """(acknowledged messages per second, relayed per second at the agents, visitors
    whose ack never came)."""
    server = start_server(kind, mode)
    try:
        product = kind == "product"
        relayed = [0]
        agents = _load.connect_agents(server.url, 2, product,
                                      lambda _m: relayed.__setitem__(0, relayed[0] + 1))
        chats = _load.start_chats(server.url, visitors)
        sockets = _load.connect_visitors(server.url, chats, product)
        _load.closed_loop(sockets, chats, min(1.0, seconds / 3))  # warm up
        before = relayed[0]
        acks, elapsed, stalled = _load.closed_loop(sockets, chats, seconds)
        heard = (relayed[0] - before) / 2 / elapsed  # each agent hears each message
        for socket in sockets + agents:
            socket.close()
        return acks / elapsed, heard, stalled
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="measured time per run")
    parser.add_argument("--visitors", type=int, nargs="+", default=[20, 100, 200])
    parser.add_argument("--modes", nargs="+", default=["threading", "gevent"],
                        choices=("threading", "gevent"))
    args = parser.parse_args()
    pin(CLIENT_CORE)

    rows = []
    for mode in args.modes:
        for visitors in args.visitors:
            rates = {kind: measure(kind, mode, visitors, args.seconds) for kind in KINDS}
            product, store, relay = (rates[k][0] for k in KINDS)
            stalled = sum(rates[k][2] for k in KINDS)
            rows.append([mode, visitors, f"{product:,.0f}", f"{store:,.0f}", f"{relay:,.0f}",
                         f"{product / store:.2f}", f"{product / relay:.2f}",
                         f"{rates['product'][1]:,.0f}",
                         "/".join(str(rates[k][2]) for k in KINDS) if stalled else "0"])
            print(f"  {mode:9} {visitors:4} visitors: product {product:7,.0f}  raw store "
                  f"{store:7,.0f}  raw relay {relay:7,.0f} msg/s", flush=True)
    print()
    print("Closed loop, messages acknowledged per second (+2 agent sockets hearing each)")
    print(table(rows, ["mode", "visitors", "product", "raw store+relay", "raw relay",
                       "product/store", "product/relay", "product relayed/s",
                       "stalled (p/s/r)"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
