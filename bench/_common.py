"""What the benchmarks share: cores, server processes, memory readings, tables.

The machine has two cores: a server under test runs on core 0 (``SERVER_CORE``)
and the load on core 1 (``CLIENT_CORE``), so that neither steals the other's.
Everything listens on 127.0.0.1 only.
"""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SERVER_CORE, CLIENT_CORE = 0, 1
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def pin(core: int, pid: int = 0) -> None:
    """Keep a process (0 = this one) on one core, when the machine has it."""
    if hasattr(os, "sched_setaffinity") and core < (os.cpu_count() or 1):
        os.sched_setaffinity(pid, {core})


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path = field(default=Path(os.devnull))

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_kib(self) -> int:
        return _status(self.pid, "VmRSS")

    def peak_kib(self) -> int:
        return _status(self.pid, "VmHWM")

    def cpu_seconds(self) -> float:
        """User and system CPU time the server has used so far (Linux: /proc/PID/stat)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def reset_peak(self) -> None:
        """Start the peak-RSS reading afresh (Linux: clear_refs 5)."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def _status(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def start_server(kind: str, mode: str, *, db: str | None = None, queue: str | None = None,
                 channel: str = "gdprchat-bench", core: int = SERVER_CORE) -> Server:
    """Start ``bench/_server.py`` on its core and wait for it to listen."""
    args = [sys.executable, str(BENCH / "_server.py"), kind, mode, "--channel", channel]
    if db:
        args += ["--db", db]
    if queue:
        args += ["--queue", queue]
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"gdprchat-bench-{kind}-{mode}-{os.getpid()}.log"
    with open(log, "w") as errors:
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=errors, text=True,
                                   preexec_fn=lambda: pin(core), cwd=ROOT)
    line = process.stdout.readline() if process.stdout else ""
    if not line.startswith("READY"):
        process.kill()
        raise RuntimeError(f"{kind}/{mode} server did not start: {log.read_text()[-2000:]}")
    return Server(f"http://127.0.0.1:{line.split()[1]}", process, log)


def postgres_scratch(url: str | None = None) -> tuple[str, callable]:
    """A scratch PostgreSQL database: ``(its URL, drop())``."""
    import uuid

    import sqlalchemy as sa

    server_url = sa.engine.make_url(url or os.environ.get("GDPRCHAT_BENCH_POSTGRES_URL",
                                                          DEFAULT_POSTGRES))
    name = f"gdprchat_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    return server_url.set(database=name).render_as_string(hide_password=False), drop


def table(rows: list[list[object]], header: list[str]) -> str:
    """A plain text table."""
    cells = [header] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in
                       enumerate(zip(r, widths, strict=True))) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def bench_app(db_uri: str | None = None):
    """The chat on a fresh app in this process (the same secret as ``_server.py``)."""
    import tempfile

    from flask import Flask

    from flask_gdprchat import GDPRChat
    from flask_gdprchat.core.config import DEFAULTS

    app = Flask("gdprchat_bench", instance_path=tempfile.mkdtemp(prefix="gdprchat-bench-"))
    app.config.update(SECRET_KEY="bench", GDPRCHAT_SCHEDULER=False,
                      GDPRCHAT_CONTROLLER_NAME="Bench", GDPRCHAT_CONTROLLER_EMAIL="b@example.test")
    if db_uri:
        app.config["SQLALCHEMY_DATABASE_URI"] = db_uri
    if "CONVERSATION_STARTS_PER_HOUR" in DEFAULTS:
        app.config["GDPRCHAT_CONVERSATION_STARTS_PER_HOUR"] = 10**9
    chat = GDPRChat(app)
    return app, chat


def add_subject(app, email: str, messages: int, batch: int = 10_000) -> int:
    """A chat started over the API by ``email``, then ``messages`` messages in it,
    written in bulk. Returns the conversation id."""
    import datetime as dt

    from sqlalchemy import insert

    from flask_gdprchat.core.models import Message
    from flask_gdprchat.core.state import session

    answer = app.test_client().post("/gdprchat/api/conversations", json={
        "consent": True, "policy_version": "1", "email": email, "name": "Bench Subject"})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    cid = answer.get_json()["conversation_id"]
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    with app.app_context():
        db = session()
        for at in range(0, messages, batch):
            db.execute(insert(Message), [
                {"conversation_id": cid, "author": "visitor" if i % 2 else "agent",
                 "text": f"Message {i}: could I book a check-up for next Tuesday morning?",
                 "created_at": now}
                for i in range(at, min(messages, at + batch))])
            db.commit()
    return cid
