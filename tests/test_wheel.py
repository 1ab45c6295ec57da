"""The built wheel carries everything the package needs and works on its own.

The wheel is built from the files git tracks (as a fresh clone would have them),
installed into a new virtual environment, and a small host app is run with that
environment's Python, so templates, static files, migrations and the Flask-Admin
overrides are all proven to come from the wheel and not from this checkout.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]

HOST_APP = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from flask import Flask, render_template_string
    import flask_gdprchat
    from flask_gdprchat import GDPRChat
    from flask_gdprchat.core.database import init_db

    app = Flask("host", instance_path=sys.argv[1])
    app.config.update(SECRET_KEY="wheel-test", GDPRCHAT_SCHEDULER=False)
    GDPRChat(app)
    app.add_url_rule("/", "home", lambda: render_template_string("<p>Hi</p>{{ gdprchat_widget() }}"))
    with app.app_context():
        revision = init_db()
    client = app.test_client()
    admin_templates = Path(flask_gdprchat.__file__).parent / "admin_templates"
    print(json.dumps({
        "package": flask_gdprchat.__file__,
        "revision": revision,
        "widget_status": client.get("/gdprchat/widget.js").status_code,
        "page": client.get("/").get_data(as_text=True),
        "css_status": client.get("/gdprchat/static/gdprchat/app.css").status_code,
        "login_status": client.get("/gdprchat/agent/login").status_code,
        "admin_templates": str(admin_templates),
        "admin_files": sorted(
            p.relative_to(admin_templates).as_posix()
            for p in admin_templates.rglob("*") if p.is_file() and p.suffix != ".pyc"
            and p.name != "__init__.py"
        ),
    }))
    """
)


def tracked_files(under: str = "") -> list[str]:
    """Files git tracks (optionally under a folder) that exist in the working tree."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--", under or "."],
        cwd=REPO, check=True, capture_output=True, text=True,
    ).stdout
    return sorted(f for f in out.split("\0") if f and (REPO / f).is_file())


def admin_template_files() -> set[str]:
    """The tracked Flask-Admin overrides, relative to ``admin_templates/``."""
    return {
        f.removeprefix("admin_templates/")
        for f in tracked_files("admin_templates")
        if not f.endswith("__init__.py")
    }


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: Any) -> Path:
    """A wheel built from a copy of the tracked files (no stray build/ in the checkout)."""
    source = tmp_path_factory.mktemp("source")
    for name in tracked_files():
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "-w", str(dist), str(source)],
        check=True, capture_output=True, text=True,
    )
    (built,) = dist.glob("flask_gdprchat-*.whl")
    return built


@pytest.mark.slow
def test_wheel_contains_templates_static_files_migrations_and_admin_templates(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "flask_gdprchat/py.typed" in names
    assert "flask_gdprchat/core/migrations/versions/0001_initial_schema.py" in names
    assert "flask_gdprchat/core/migrations/env.py" in names
    assert "flask_gdprchat/templates/gdprchat/widget.js" in names
    for folder in ("flask_gdprchat/templates/gdprchat/", "flask_gdprchat/static/gdprchat/"):
        tracked = set(tracked_files(folder))
        assert tracked, f"git tracks nothing under {folder}"
        assert tracked <= names, f"missing from the wheel: {sorted(tracked - names)}"

    tracked_admin = admin_template_files()
    in_wheel = {
        n.removeprefix("flask_gdprchat/admin_templates/")
        for n in names
        if n.startswith("flask_gdprchat/admin_templates/") and not n.endswith("/__init__.py")
    }
    assert any(f.endswith(".html") for f in tracked_admin), "admin_templates/ holds no template"
    assert in_wheel == tracked_admin


@pytest.mark.slow
def test_installed_wheel_serves_a_host_app_from_a_fresh_virtualenv(
    wheel: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        check=True, capture_output=True, text=True,
    )
    # Dependencies come from this test environment's site-packages, added as a
    # plain path: its editable-install .pth is not processed from there, so
    # flask_gdprchat itself must resolve to the wheel.
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    (Path(site) / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    workdir = tmp_path / "host"
    workdir.mkdir()
    (workdir / "host_app.py").write_text(HOST_APP)
    result = subprocess.run(
        [str(python), "host_app.py", str(workdir / "instance")],
        cwd=workdir, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])

    assert Path(report["package"]).is_relative_to(venv)
    assert report["revision"]
    assert report["widget_status"] == 200
    assert '<script src="/gdprchat/widget.js" defer></script>' in report["page"]
    assert report["css_status"] == 200
    assert report["login_status"] == 200
    admin_templates = Path(report["admin_templates"])
    assert admin_templates.is_relative_to(venv) and admin_templates.is_dir()
    assert set(report["admin_files"]) == admin_template_files()
