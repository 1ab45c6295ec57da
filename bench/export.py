"""Export of a subject with 100,000 messages as CSV, JSON and XML, over HTTP.

One subject's chat holds ``--messages`` messages. The server (gevent, core 0)
answers ``GET P/privacy/<token>/export.{csv,json,xml}`` (the privacy center's
download) to this client (core 1); for each format the time to the last byte,
the size and the server's peak memory growth (peak RSS during the download minus
RSS before it) are printed beside the reference: the same messages streamed as
CSV from a bare DB-API cursor by the same server process.

    python bench/export.py [--messages 100000] [--db sqlite|postgres]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import requests  # noqa: E402
from _common import (  # noqa: E402
    CLIENT_CORE,
    add_subject,
    bench_app,
    pin,
    postgres_scratch,
    start_server,
    table,
)

SUBJECT = "export.me@example.test"


def download(server, path: str) -> tuple[float, int, int]:
    """(seconds, bytes, peak RSS growth in KiB) for one GET."""
    server.reset_peak()
    before = server.rss_kib()
    started = time.perf_counter()
    size = 0
    with requests.get(server.url + path, stream=True, timeout=600) as answer:
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
        for chunk in answer.iter_content(65536):
            size += len(chunk)
    return time.perf_counter() - started, size, server.peak_kib() - before


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    pin(CLIENT_CORE)
    drop = None
    if args.db == "postgres":
        uri, drop = postgres_scratch()
    else:
        uri = f"sqlite:///{tempfile.mkdtemp(prefix='gdprchat-bench-')}/export.sqlite3"
    try:
        app, _chat = bench_app(uri)
        cid = add_subject(app, SUBJECT, args.messages)
        with app.app_context():
            from flask_gdprchat.rights.links import make_token

            token = make_token(SUBJECT)
            app.extensions["gdprchat"].db.engine.dispose()
        server = start_server("product", "gevent", db=uri)
        try:
            download(server, f"/_bench/raw-dump?conversation={cid}")  # warm the cache
            rows = []
            raw = download(server, f"/_bench/raw-dump?conversation={cid}")
            for fmt in ("csv", "json", "xml"):
                seconds, size, peak = download(server, f"/gdprchat/privacy/{token}/export.{fmt}")
                rows.append([fmt, f"{seconds:.2f}", f"{size / 2**20:.1f}", f"{peak / 1024:.1f}",
                             f"{seconds / raw[0]:.1f}x"])
            rows.append(["raw cursor CSV (ref.)", f"{raw[0]:.2f}", f"{raw[1] / 2**20:.1f}",
                         f"{raw[2] / 1024:.1f}", "1.0x"])
        finally:
            server.stop()
        print(f"Export of one subject with {args.messages:,} messages ({args.db}, gevent server)")
        print(table(rows, ["format", "seconds", "MiB", "peak RSS growth MiB", "time vs raw"]))
        return 0
    finally:
        if drop:
            drop()


if __name__ == "__main__":
    sys.exit(main())
