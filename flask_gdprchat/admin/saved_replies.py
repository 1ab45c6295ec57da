"""The dashboard's "Saved replies" screen (``settings`` permission).

Agents insert these in the console by typing ``/`` and the shortcut.
"""
from __future__ import annotations

from typing import Any

from wtforms import StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from flask_gdprchat.admin.forms import AdminSecureForm
from flask_gdprchat.admin.views import GuardedModelView, _when
from flask_gdprchat.chat.saved_replies import SavedReplyError, check_saved_reply
from flask_gdprchat.core.agent_i18n import lazy_agent_gettext
from flask_gdprchat.core.models import SavedReply


class SavedReplyForm(AdminSecureForm):
    """One saved reply."""

    shortcut = StringField(
        lazy_agent_gettext("Shortcut"), validators=[InputRequired(), Length(max=33)],
        description=lazy_agent_gettext("Typed after '/' in the reply box, such as hours or "
                                       "refund-policy."),
    )
    title = StringField(lazy_agent_gettext("Title"), validators=[Optional(), Length(max=120)],
                        description=lazy_agent_gettext("Shown in the list next to the shortcut "
                                                       "(optional)."))
    text = TextAreaField(lazy_agent_gettext("Reply"), validators=[InputRequired()],
                         description=lazy_agent_gettext("Inserted into the reply box; the agent "
                                                        "can edit it before sending."))


class SavedRepliesView(GuardedModelView):
    """Saved replies: create, edit, delete."""

    permissions = ("settings",)
    column_list = ("shortcut", "title", "text", "updated_at")
    column_labels = {"shortcut": lazy_agent_gettext("Shortcut"), "title": lazy_agent_gettext("Title"),
                     "updated_at": lazy_agent_gettext("Changed"), "text": lazy_agent_gettext("Reply")}
    column_formatters = {
        "shortcut": lambda v, c, m, n: f"/{m.shortcut}",
        "text": lambda v, c, m, n: m.text if len(m.text) <= 120 else m.text[:119] + "…",
        "updated_at": lambda v, c, m, n: _when(m.updated_at),
    }
    column_default_sort = ("shortcut", False)
    column_searchable_list = ("shortcut", "title", "text")
    search_label = lazy_agent_gettext("Search saved replies")
    create_label = lazy_agent_gettext("New saved reply")
    delete_confirmation = lazy_agent_gettext("Delete this saved reply? Agents can no longer "
                                             "insert it.")

    def row_title(self, row: SavedReply) -> str:
        return f"/{row.shortcut}"

    def get_create_form(self) -> Any:
        return SavedReplyForm

    def get_edit_form(self) -> Any:
        return SavedReplyForm

    def on_model_change(self, form: Any, model: SavedReply, is_created: bool) -> None:
        try:
            check_saved_reply(model)
        except SavedReplyError as exc:
            # Flask-Admin shows a ValidationError as the form's error and stores nothing.
            raise ValidationError(str(exc)) from None
