"""The widget script and the markup that puts it on a page."""
from __future__ import annotations

from flask import Blueprint, Response, render_template, url_for
from markupsafe import Markup

bp = Blueprint("widget", __name__)


def widget_markup() -> Markup:
    """``<script>`` markup for the chat bubble (template global ``gdprchat_widget``)."""
    src = url_for("gdprchat.widget.script")
    return Markup(f'<script src="{src}" defer></script>')


@bp.route("/widget.js")
def script() -> Response:
    """The widget script."""
    body = render_template("gdprchat/widget.js")
    return Response(body, mimetype="text/javascript")
