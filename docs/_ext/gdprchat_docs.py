"""Reference pages generated from the code, so that they cannot drift from it.

Three directives:

``.. gdprchat-config::``
    one ``.. data::`` entry per key of :data:`flask_gdprchat.core.config.DEFAULTS`
    (with its ``#:`` comment, its default and whether the dashboard can change it),
    then one per key of ``MAIL_DEFAULTS``.
``.. gdprchat-signals::``
    one entry per signal in :mod:`flask_gdprchat.core.signals`, from its ``#:`` comment.
``.. gdprchat-cli::``
    one section per command of the ``flask gdprchat`` click group, with its usage,
    arguments and options.

A key or a signal without a ``#:`` comment is a build warning (an error under ``-W``).
"""
from __future__ import annotations

import ast
import inspect
import io
import pprint
import re
import tokenize
from types import ModuleType
from typing import Any

import click
from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

log = logging.getLogger(__name__)

#: What the standard mail keys mean; they carry no ``#:`` comment of their own
#: because they are Flask-Mail's names, not ours.
MAIL_HELP = {
    "MAIL_SERVER": "SMTP host that every e-mail (links, transcripts, campaigns) goes through.",
    "MAIL_PORT": "Port of that SMTP host.",
    "MAIL_USE_TLS": "Upgrade the connection with ``STARTTLS`` after connecting.",
    "MAIL_USE_SSL": "Connect over TLS from the first byte (implicit TLS, usually port 465).",
    "MAIL_USERNAME": "User name for SMTP authentication; ``None`` sends without logging in.",
    "MAIL_PASSWORD": "Password for SMTP authentication.",
    "MAIL_DEFAULT_SENDER": (
        "``From`` address, a string or a ``(name, address)`` pair; ``None`` means "
        "``no-reply@`` followed by ``SERVER_NAME`` (or ``localhost``)."
    ),
}

DASHBOARD_NOTE = (
    "*Changeable in the admin dashboard:* a value saved there wins over the configuration "
    "at run time, in every process, without a restart."
)


# -- reading ``#:`` comments --------------------------------------------------------------


def _doc_comments(source: str) -> dict[int, str]:
    """Line number -> text of every ``#:`` comment in ``source``."""
    found = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT and token.string.startswith("#:"):
            found[token.start[0]] = token.string[2:].removeprefix(" ").rstrip()
    return found


def _comment_above(comments: dict[int, str], line: int) -> str | None:
    """The block of ``#:`` lines that ends right above ``line``, or None."""
    lines = []
    while line - 1 in comments:
        line -= 1
        lines.append(comments[line])
    return "\n".join(reversed(lines)) if lines else None


def dict_comments(module: ModuleType, name: str) -> dict[str, str | None]:
    """``#:`` comment of each key of the dict literal assigned to ``name`` in ``module``.

    A key with no comment of its own that directly follows another entry (no blank
    line between) shares that entry's comment, as in::

        #: Who answers privacy questions.
        "CONTROLLER_NAME": ...,
        "CONTROLLER_EMAIL": None,
    """
    source = inspect.getsource(module)
    comments = _doc_comments(source)
    for node in ast.walk(ast.parse(source)):
        target = getattr(node, "target", None) or (getattr(node, "targets", None) or [None])[0]
        if isinstance(target, ast.Name) and target.id == name:
            table = node.value  # type: ignore[attr-defined]
            break
    else:
        raise LookupError(f"{module.__name__} assigns no {name}")
    result: dict[str, str | None] = {}
    previous: tuple[str | None, int] = (None, -1)
    for key, value in zip(table.keys, table.values, strict=True):
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
            continue
        text = _comment_above(comments, key.lineno)
        if text is None and previous[1] == key.lineno - 1:
            text = previous[0]
        result[key.value] = text
        previous = (text, value.end_lineno or value.lineno)
    return result


def module_comments(module: ModuleType) -> dict[str, str | None]:
    """``#:`` comment above each top-level ``name = ...`` of ``module``."""
    source = inspect.getsource(module)
    comments = _doc_comments(source)
    result: dict[str, str | None] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            result[node.targets[0].id] = _comment_above(comments, node.lineno)
    return result


# -- writing reStructuredText -------------------------------------------------------------


def _indent(text: str, by: str = "   ") -> list[str]:
    return [by + line if line.strip() else "" for line in text.splitlines()]


def _default_lines(value: Any) -> list[str]:
    shown = pprint.pformat(value, width=72, compact=True, sort_dicts=False)
    if "\n" not in shown and len(shown) <= 60 and "``" not in shown:
        return [f"   Default: ``{shown}``", ""]
    return ["   Default:", "", "   .. code-block:: python", "", *_indent(shown, "      "), ""]


def _escape(text: str) -> str:
    """Plain text (click help) made safe to read as reStructuredText."""
    return re.sub(r"([\\`*_|<>\[\]])", r"\\\1", text)


def _help_text(text: str | None) -> str:
    """Click help as people read it: up to ``\\f``, without ``\\b`` markers."""
    text = inspect.cleandoc(text or "").split("\f")[0]
    return "\n".join(line for line in text.splitlines() if line.strip() != "\b")


def _metavar(param: click.Argument, ctx: click.Context) -> str:
    try:
        return param.make_metavar(ctx)
    except TypeError:  # click before 8.2 takes no context
        return param.make_metavar()  # type: ignore[call-arg]


def _is_help(param: click.Option, ctx: click.Context) -> bool:
    """Click's own ``--help``, the same on every command and not worth repeating."""
    return not param.expose_value and set(param.opts) <= set(ctx.help_option_names)


class _Generated(SphinxDirective):
    """Emits reStructuredText built from the code and parses it in place."""

    has_content = False
    #: Whether the generated text holds section titles.
    with_titles = False

    def lines(self) -> list[str]:
        raise NotImplementedError

    def note_source(self, module: ModuleType) -> None:
        """Re-read the page when ``module`` or this generator changes."""
        self.env.note_dependency(__file__)
        path = inspect.getsourcefile(module)
        if path:
            self.env.note_dependency(path)

    def run(self) -> list[nodes.Node]:
        container = nodes.section() if self.with_titles else nodes.container()
        content = StringList(self.lines(), source=f"<{self.name}>")
        if self.with_titles:
            nested_parse_with_titles(self.state, content, container)
        else:
            self.state.nested_parse(content, self.content_offset, container)
        return list(container.children)


class ConfigDirective(_Generated):
    """Every configuration key with its default and meaning."""

    def lines(self) -> list[str]:
        from flask_gdprchat.core import config

        self.note_source(config)
        comments = dict_comments(config, "DEFAULTS")
        expected = {key: text for key, (_check, text) in getattr(config, "_VALIDATORS", {}).items()}
        out = self._summary(config)
        for key, value in config.DEFAULTS.items():
            name = config.PREFIX + key
            comment = comments.get(key)
            if not comment:
                log.warning("%s has no #: comment in flask_gdprchat/core/config.py", name,
                            location=(self.env.docname, self.lineno))
                comment = "Not documented yet."
            out += [f".. data:: {name}", "", *_indent(comment), ""]
            if key in expected:
                out += [f"   Accepts {_escape(expected[key])}.", ""]
            out += _default_lines(value)
            if key in config.RUNTIME_KEYS:
                out += [f"   {DASHBOARD_NOTE}", ""]
        for name, value in config.MAIL_DEFAULTS.items():
            out += [f".. data:: {name}", "", f"   {MAIL_HELP.get(name, 'Standard mail setting.')}", ""]
            out += _default_lines(value)
        return out

    @staticmethod
    def _summary(config: ModuleType) -> list[str]:
        """A table of every key at a glance, each linking to its entry below."""
        out = [".. list-table::", "   :header-rows: 1", "   :widths: 50 35 15", "",
               "   * - Key", "     - Default", "     - Dashboard"]
        for key, value in config.DEFAULTS.items():
            shown = repr(value)
            default = f"``{shown}``" if len(shown) <= 32 and "``" not in shown else "see below"
            dashboard = "yes" if key in config.RUNTIME_KEYS else "no"
            out += [f"   * - :data:`{config.PREFIX}{key}`", f"     - {default}",
                    f"     - {dashboard}"]
        return [*out, ""]


class SignalsDirective(_Generated):
    """Every blinker signal, its sender and its keyword arguments."""

    def lines(self) -> list[str]:
        import blinker

        import flask_gdprchat
        from flask_gdprchat.core import signals

        self.note_source(signals)
        comments = module_comments(signals)
        public = set(getattr(flask_gdprchat, "__all__", ()))
        out: list[str] = []
        for name, value in vars(signals).items():
            if name.startswith("_") or not isinstance(value, blinker.Signal):
                continue
            comment = comments.get(name)
            if not comment:
                log.warning("signal %s has no #: comment in flask_gdprchat/core/signals.py",
                            name, location=(self.env.docname, self.lineno))
                comment = "Not documented yet."
            text = " ".join(comment.split())
            sender = "the Flask application the chat is registered on."
            if "Sender:" in text:
                text, sender = (part.strip() for part in text.split("Sender:", 1))
            kwargs = None
            if "Kwargs:" in text:
                text, kwargs = (part.strip() for part in text.split("Kwargs:", 1))
            module = "flask_gdprchat" if name in public else signals.__name__
            out += [f".. data:: {name}", f"   :module: {module}", "", f"   {text}", ""]
            out += [f"   :Sender: {sender}"]
            out += [f"   :Keyword arguments: {kwargs or 'none.'}", ""]
        return out


class CliDirective(_Generated):
    """One section per command of the ``flask gdprchat`` group, found by walking it."""

    with_titles = True

    def lines(self) -> list[str]:
        from flask_gdprchat import cli

        self.note_source(cli)
        root = click.Context(cli.gdprchat_cli, info_name="flask gdprchat")
        return self._group(root)

    def _group(self, ctx: click.Context) -> list[str]:
        group = ctx.command
        assert isinstance(group, click.Group)
        out: list[str] = []
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            sub = click.Context(command, info_name=name, parent=ctx)
            out += self._command(sub)
            if isinstance(command, click.Group):
                out += self._group(sub)
        return out

    def _command(self, ctx: click.Context) -> list[str]:
        command = ctx.command
        path = ctx.command_path
        title = f"``{path}``"
        out = [title, "-" * len(title), "", f".. program:: {path}", ""]
        out += [_escape(_help_text(command.help)) or "Not documented yet.", ""]
        usage = " ".join([path, *command.collect_usage_pieces(ctx)])
        out += [".. code-block:: text", "", f"   {usage}", ""]
        for param in command.get_params(ctx):
            if isinstance(param, click.Argument):
                required = "Required." if param.required else "Optional."
                out += [f".. option:: {_metavar(param, ctx)}", "", f"   {required}", ""]
            elif isinstance(param, click.Option) and not param.hidden and not _is_help(param, ctx):
                record = param.get_help_record(ctx)
                if record is None:
                    continue
                signature, help_text = record
                out += [f".. option:: {signature}", "",
                        *_indent(_escape(help_text) or "No description."), ""]
        return out


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("gdprchat-config", ConfigDirective)
    app.add_directive("gdprchat-signals", SignalsDirective)
    app.add_directive("gdprchat-cli", CliDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
