"""The README's promises: its first example runs as written, its config table is complete."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from flask_gdprchat.core.config import DEFAULTS, RUNTIME_KEYS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)

CHECK = """
import json, yourapp
client = yourapp.app.test_client()
page = client.get("/")
print(json.dumps({
    "status": page.status_code,
    "page": page.get_data(as_text=True),
    "widget": client.get("/gdprchat/widget.js").status_code,
    "login": client.get("/gdprchat/agent/login").status_code,
    "secret": yourapp.app.secret_key,
}))
"""


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "GDPRCHAT_"))}
    env["FLASK_SECRET_KEY"] = "readme-secret"
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def render_default(value: object) -> str:
    """A default as the README's table shows it."""
    return json.dumps(value) if isinstance(value, (str, list)) else repr(value)


@pytest.mark.slow
def test_the_first_example_and_its_commands_work_as_written(tmp_path: Path) -> None:
    (tmp_path / "yourapp.py").write_text(PYTHON_BLOCKS[0])

    init = run(["-m", "flask", "--app", "yourapp", "gdprchat", "init-db"], tmp_path)
    assert init.returncode == 0, init.stderr
    assert "Database ready" in init.stdout
    agent = run(
        ["-m", "flask", "--app", "yourapp", "gdprchat", "create-agent", "you@example.com",
         "--name", "Your Name", "--admin", "--password", "a long enough password"],
        tmp_path,
    )
    assert agent.returncode == 0, agent.stderr
    assert "you@example.com" in agent.stdout

    checked = run(["-c", CHECK], tmp_path)
    assert checked.returncode == 0, checked.stderr
    result = json.loads(checked.stdout.strip().splitlines()[-1])
    assert result["status"] == 200
    assert '<script src="/gdprchat/widget.js" defer></script>' in result["page"]
    assert result["widget"] == 200 and result["login"] == 200
    # from_prefixed_env picked up FLASK_SECRET_KEY, and the data went to the instance folder.
    assert result["secret"] == "readme-secret"
    assert (tmp_path / "instance" / "gdprchat.sqlite3").exists()


@pytest.mark.slow
def test_python_yourapp_py_serves_the_page_as_pasted(tmp_path: Path) -> None:
    """``python yourapp.py``, exactly as the README says, serves the site on port 5000."""
    import socket
    import time

    import requests

    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", 5000)) != 0, "port 5000 is taken; the test needs it"
    (tmp_path / "yourapp.py").write_text(PYTHON_BLOCKS[0])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "GDPRCHAT_"))}
    log = tmp_path / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "yourapp.py"], cwd=tmp_path, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        page = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                page = requests.get("http://127.0.0.1:5000/", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.2)  # the server is still starting: nothing to wait on but the port
        assert proc.poll() is None, log.read_text()
        assert page is not None and page.status_code == 200
        assert '<script src="/gdprchat/widget.js" defer></script>' in page.text
        assert requests.get("http://127.0.0.1:5000/gdprchat/agent/login", timeout=5).ok
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_every_setting_is_in_the_readme_table_with_its_default() -> None:
    pattern = re.compile(r"^\| `GDPRCHAT_(\w+)`( ✎)? \| `([^`]*)` \|", re.M)
    rows = {m.group(1): m for m in pattern.finditer(README)}
    assert set(rows) == set(DEFAULTS), "README's table and config.DEFAULTS differ"
    for key, value in DEFAULTS.items():
        assert rows[key].group(3) == render_default(value), f"README's default for {key}"
        assert bool(rows[key].group(2)) == (key in RUNTIME_KEYS), f"README's ✎ mark on {key}"


def test_every_python_example_in_the_readme_compiles() -> None:
    assert len(PYTHON_BLOCKS) >= 3
    for number, block in enumerate(PYTHON_BLOCKS):
        compile(block, f"README.md python block {number}", "exec")
