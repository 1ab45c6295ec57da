"""The dashboard's "Record of processing" page (Art. 30), with its two downloads."""
from __future__ import annotations

import json
from typing import Any

from flask import Response
from flask_admin import BaseView, expose

from flask_gdprchat.admin.views import AgentAccess
from flask_gdprchat.records.ropa import build_record, render_markdown

#: The downloads' file name, without its extension.
FILENAME = "record-of-processing"


class RecordOfProcessingView(AgentAccess, BaseView):
    """The record as generated now from the settings in force (``settings`` permission).

    Flask-Admin asks :meth:`is_accessible` before each of these views, downloads included.
    """

    permissions = ("settings",)

    @expose("/")
    def index(self) -> Any:
        return self.render("gdprchat_admin/ropa.html", record=build_record())

    @expose("/record.md")
    def download_markdown(self) -> Response:
        return _download(render_markdown(build_record()), "md", "text/markdown; charset=utf-8")

    @expose("/record.json")
    def download_json(self) -> Response:
        body = json.dumps(build_record(), indent=2, ensure_ascii=False) + "\n"
        return _download(body, "json", "application/json")


def _download(body: str, extension: str, mimetype: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{FILENAME}.{extension}"'
    response.headers["Cache-Control"] = "no-store"
    return response
