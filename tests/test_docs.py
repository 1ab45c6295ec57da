"""The reference documentation builds without a warning and covers what the code has.

The configuration, signal and command pages are generated from the code; these tests
prove that a key, a signal or a command added to the code shows up in them.
"""
from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

import flask_gdprchat
from flask_gdprchat.cli import gdprchat_cli
from flask_gdprchat.core import signals
from flask_gdprchat.core.config import DEFAULTS, MAIL_DEFAULTS, PREFIX, RUNTIME_KEYS

DOCS = Path(__file__).resolve().parents[1] / "docs"

# Tests marked slow run Sphinx in a subprocess (a few seconds per build).


def sphinx(out: Path, *options: str, before: str = "") -> subprocess.CompletedProcess[str]:
    """Build the HTML into ``out`` in a fresh interpreter, running ``before`` first.

    A subprocess: Sphinx keeps global state, and this suite turns warnings into
    errors, which a third-party deprecation inside Sphinx must not trip.
    """
    args = [*options, "-q", "-b", "html", "-d", str(out / "doctrees"), str(DOCS), str(out / "html")]
    code = f"{before}\nfrom sphinx.cmd.build import main\nraise SystemExit(main({args!r}))"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HTML build, made once for the module with warnings as errors."""
    out = tmp_path_factory.mktemp("docs")
    result = sphinx(out, "-W", "--keep-going")
    assert result.returncode == 0, result.stdout + result.stderr
    return out / "html"


def page(built: Path, name: str) -> str:
    return (built / f"{name}.html").read_text(encoding="utf-8")


def entries(source: str) -> dict[str, str]:
    """Each documented object's id -> the plain text of its entry (signature and body)."""
    parts = re.split(r'<dt class="sig sig-object[^"]*" id="([^"]+)">', source)
    return {
        ident: html.unescape(re.sub(r"<[^>]+>", "", body.split("</dl>")[0]))
        for ident, body in zip(parts[1::2], parts[2::2], strict=True)
    }


@pytest.mark.slow
def test_every_page_is_built(built: Path) -> None:
    for name in ("index", "quickstart", "configuration", "api", "cli", "deployment",
                 "gdpr", "erasure", "retention"):
        assert (built / f"{name}.html").is_file(), name


@pytest.mark.slow
def test_every_config_key_is_documented_with_its_default(built: Path) -> None:
    documented = entries(page(built, "configuration"))
    for key, value in DEFAULTS.items():
        name = PREFIX + key
        assert name in documented, f"{name} missing from the configuration page"
        text = documented[name]
        if len(repr(value)) <= 60:
            assert f"Default: {value!r}" in text, (name, text)
        assert "Not documented yet" not in text, f"{name} has no #: comment"
        # Only the keys the dashboard can override say so.
        assert ("Changeable in the admin dashboard" in text) == (key in RUNTIME_KEYS), name
    for name, value in MAIL_DEFAULTS.items():
        assert f"Default: {value!r}" in documented[name], name


@pytest.mark.slow
def test_a_key_shares_the_comment_of_the_group_it_follows(built: Path) -> None:
    # PRECHAT_REQUIRED sits under the one comment for both pre-chat lists.
    documented = entries(page(built, "configuration"))
    assert "must be filled" in documented["GDPRCHAT_PRECHAT_REQUIRED"]


@pytest.mark.slow
def test_every_signal_is_documented_with_sender_and_arguments(built: Path) -> None:
    documented = entries(page(built, "api"))
    for name in signals.__all__:
        module = "flask_gdprchat" if name in flask_gdprchat.__all__ else signals.__name__
        text = documented[f"{module}.{name}"]
        assert "Sender:" in text and "Keyword arguments:" in text, (name, text)
    assert "subject_ref" in documented["flask_gdprchat.subject_erased"]


@pytest.mark.slow
def test_the_extension_api_is_documented(built: Path) -> None:
    documented = entries(page(built, "api"))
    for method in ("init_app", "identify_visitor", "export_subject", "erase_subject",
                   "restrict_subject", "unrestrict_subject"):
        text = documented[f"flask_gdprchat.GDPRChat.{method}"]
        assert len(text.split()) > 3, (method, text)  # a docstring, not a bare name


@pytest.mark.slow
def test_every_command_and_option_is_on_the_cli_page(built: Path) -> None:
    source = page(built, "cli")
    ctx = click.Context(gdprchat_cli, info_name="flask gdprchat")
    assert gdprchat_cli.list_commands(ctx), "the group has no commands"
    for name in gdprchat_cli.list_commands(ctx):
        command = gdprchat_cli.get_command(ctx, name)
        assert command is not None
        # Each command has a section of its own, holding its usage and its options.
        start = f'<section id="flask-gdprchat-{name}">'
        assert start in source, f"flask gdprchat {name} missing from the CLI page"
        section = html.unescape(source.split(start, 1)[1].split("</section>", 1)[0])
        assert f"flask gdprchat {name} [OPTIONS]" in re.sub(r"<[^>]+>", "", section), name
        for param in command.params:
            for opt in param.opts if isinstance(param, click.Option) else []:
                assert f'id="cmdoption-flask-gdprchat-{name}-{opt.lstrip("-")}"' in section, (
                    f"flask gdprchat {name} {opt} missing"
                )

@pytest.mark.slow
def test_a_new_key_appears_by_itself_and_a_missing_comment_is_a_warning(tmp_path: Path) -> None:
    # A key added to the table at run time has no #: comment in the source: the page
    # still lists it, and the build warns (an error under make docs' -W).
    result = sphinx(
        tmp_path,
        before="from flask_gdprchat.core import config; config.DEFAULTS['ZZ_NEW_KEY'] = 7",
    )
    assert result.returncode == 0, result.stderr
    assert "GDPRCHAT_ZZ_NEW_KEY has no #: comment" in result.stderr
    documented = entries((tmp_path / "html" / "configuration.html").read_text())
    assert "Default: 7" in documented["GDPRCHAT_ZZ_NEW_KEY"]


def test_comments_are_read_per_key_and_shared_only_by_adjacent_keys(tmp_path: Path) -> None:
    (tmp_path / "fake_config.py").write_text(
        "TABLE = {\n"
        "    #: First line\n"
        "    #: and its second.\n"
        '    "A": [\n'
        "        1,\n"
        "    ],\n"
        '    "B": 2,\n'
        "\n"
        '    "C": 3,\n'
        "}\n"
    )
    sys.path[:0] = [str(DOCS / "_ext"), str(tmp_path)]
    try:
        import fake_config
        import gdprchat_docs

        comments = gdprchat_docs.dict_comments(fake_config, "TABLE")
    finally:
        del sys.path[:2]
        sys.modules.pop("fake_config", None)
        sys.modules.pop("gdprchat_docs", None)
    # B follows A's multi-line value directly, so it shares A's comment; the blank
    # line before C ends the group, so C has none (and the build would warn).
    assert comments == {"A": "First line\nand its second.", "B": "First line\nand its second.",
                        "C": None}
