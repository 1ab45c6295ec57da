"""Start-up time of ``flask gdprchat purge --dry-run`` on an empty site.

A fresh site (SQLite in a temporary folder) is made once; then the command runs
``--runs`` times and the median wall time is printed beside two references
measured in the same run: a bare Flask app's ``flask routes`` (the floor) and the
same command with the schema check forced through alembic, as every start did
before the check learned to read the migration files itself. Target: < 1 s.

    python bench/startup.py [--runs 5]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, SERVER_CORE, pin  # noqa: E402

SITE = """\
from flask import Flask
from flask_gdprchat import GDPRChat
app = Flask(__name__, instance_path={instance!r})
app.config.update(SECRET_KEY="bench", GDPRCHAT_SCHEDULER=False)
{before}GDPRChat(app)
"""
FORCE_ALEMBIC = ("import flask_gdprchat.core.database as d\n"
                 "d.schema_is_current = lambda engine: False\n")
BARE = "from flask import Flask\napp = Flask(__name__)\n"


def median_seconds(folder: Path, app: str, args: list[str], runs: int) -> float:
    flask = [sys.executable, "-m", "flask", "--app", app, *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(flask, cwd=folder, env=env, check=True, capture_output=True)  # warm up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(flask, cwd=folder, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    pin(SERVER_CORE)
    folder = Path(tempfile.mkdtemp(prefix="gdprchat-bench-"))
    instance = str(folder / "instance")
    (folder / "chatsite.py").write_text(SITE.format(instance=instance, before=""))
    (folder / "before.py").write_text(SITE.format(instance=instance, before=FORCE_ALEMBIC))
    (folder / "bare.py").write_text(BARE)
    purge = ["gdprchat", "purge", "--dry-run"]
    ours = median_seconds(folder, "chatsite", purge, args.runs)
    forced = median_seconds(folder, "before", purge, args.runs)
    bare = median_seconds(folder, "bare", ["routes"], args.runs)
    print(f"flask gdprchat purge --dry-run on an empty site (median of {args.runs})")
    print(f"  now                         {ours:5.2f} s")
    print(f"  schema checked by alembic   {forced:5.2f} s  (as before)")
    print(f"  bare Flask 'flask routes'   {bare:5.2f} s  (the floor)")
    print(f"  target < 1 s: {'met' if ours < 1 else 'NOT met'}")
    return 0  # a figure, not a test: make bench goes on either way


if __name__ == "__main__":
    sys.exit(main())
