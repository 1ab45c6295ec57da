"""Forms of the dashboard: settings pages, team members and campaigns.

Settings forms check each value with the same validator the config uses at
start-up (:func:`flask_gdprchat.core.config.validate_value`) and attach the error to
the field it belongs to, so nothing is saved unless every field is right.
Model forms (and Flask-Admin's own delete and action forms) derive from
:class:`AdminSecureForm`: Flask-Admin's form with Flask-WTF's CSRF token, the
same token as the console's forms, so any token on a page is the right one.
"""
from __future__ import annotations

import json
from typing import Any

from flask_admin.form import BaseForm
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, NumberRange, Optional

from flask_gdprchat.core import office_hours
from flask_gdprchat.core.agent_i18n import _a, lazy_agent_gettext
from flask_gdprchat.core.config import (
    PERMISSIONS,
    PRECHAT_FIELD_CHOICES,
    ConfigError,
    check_wording_languages,
    config_value,
    missing_required,
    validate_value,
)

#: Short names of the permissions, for lists.
PERMISSION_NAMES = {
    "settings": lazy_agent_gettext("Settings"),
    "team": lazy_agent_gettext("Team"),
    "user_data": lazy_agent_gettext("User data"),
    "send_messages": lazy_agent_gettext("Send messages"),
    "edit_messages": lazy_agent_gettext("Edit messages"),
}

PERMISSION_LABELS = {
    "settings": lazy_agent_gettext("Settings: widget, retention, campaigns"),
    "team": lazy_agent_gettext("Team: add, change and delete team members"),
    "user_data": lazy_agent_gettext("User data: contacts, consent records, requests, audit log"),
    "send_messages": lazy_agent_gettext("Send messages in the console"),
    "edit_messages": lazy_agent_gettext("Edit sent messages"),
}

#: The pre-chat fields as the dashboard names them.
PRECHAT_FIELD_NAMES = {
    "name": lazy_agent_gettext("Name"),
    "email": lazy_agent_gettext("E-mail"),
    "company": lazy_agent_gettext("Company"),
    "phone": lazy_agent_gettext("Phone"),
}


def _field_name(field: str) -> Any:
    return PRECHAT_FIELD_NAMES.get(field, field.capitalize())


class AdminSecureForm(BaseForm):
    """Flask-Admin's base form with Flask-WTF's CSRF protection."""

    class Meta(FlaskForm.Meta):
        pass


class CheckboxesField(SelectMultipleField):
    """Several choices as a list of checkboxes."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class WordingField(TextAreaField):
    """A wording shown to visitors: one text for every language, or a JSON object
    ``{"en": "...", "de": "..."}`` with a text per language."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        raw = (valuelist[0] if valuelist else "") or ""
        self.data = raw
        if raw.strip().startswith("{"):
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                # Kept as typed, so the admin can fix it; nothing is saved.
                raise ValueError(_a('Write one text, or a JSON object like '
                                    '{"en": "...", "de": "..."}.'))
            self.data = parsed

    def _value(self) -> str:
        if isinstance(self.data, dict):
            return json.dumps(self.data, ensure_ascii=False, indent=2)
        return str(self.data or "")


class OfficeHoursField(TextAreaField):
    """Office hours as text: a line with the time zone, then lines like
    ``Mon-Fri 09:00-17:00``; empty means around the clock (saved as None)."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        raw = (valuelist[0] if valuelist else "") or ""
        self.data = raw
        # Kept as typed when wrong, so the admin can fix it; nothing is saved.
        self.data = office_hours.parse_text(raw)

    def _value(self) -> str:
        if isinstance(self.data, dict):
            return office_hours.to_text(self.data)
        return str(self.data or "")


class SettingsForm(FlaskForm):
    """A form whose fields are named after run-time setting keys (lower case)."""

    #: Field names that mean "not set" when left blank (saved as None).
    blank_is_none: tuple[str, ...] = ()
    #: What to tell the admin when a setting breaks the config's rule: the config's
    #: own message names the key (for developers); these speak to people.
    plain_errors: dict[str, Any] = {}

    def setting_values(self) -> dict[str, Any]:
        """``{KEY: value}`` for every setting field of the form."""
        values = {}
        for field in self:
            if field.name == "csrf_token":
                continue
            value = field.data
            if isinstance(value, str):
                value = value.strip()
                if value == "" and field.name in self.blank_is_none:
                    value = None
            values[field.name.upper()] = value
        return values

    def check_settings(self) -> dict[str, Any] | None:
        """The values if each passes the config's own rule, else None with field errors."""
        values = self.setting_values()
        ok = True
        for key, value in values.items():
            field = self[key.lower()]
            if field.errors:
                ok = False
                continue
            try:
                validate_value(key, value)
            except ConfigError as exc:
                field.errors = [*field.errors, str(self.plain_errors.get(key, exc))]
                ok = False
        return values if ok and self.check_together(values) else None

    def check_together(self, values: dict[str, Any]) -> bool:
        """Rules across fields; subclasses add errors to fields and return False."""
        return True

    @classmethod
    def initial(cls, current: dict[str, Any]) -> dict[str, Any]:
        """Field data from the settings in force."""
        return {key.lower(): value for key, value in current.items()}


class DaysField(IntegerField):
    """A number of days; anything else is refused in words."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(_a("Enter a whole number of days, like 270.")) from None


class RetentionForm(SettingsForm):
    """How long conversations are kept."""

    blank_is_none = ("identified_retention_days",)
    plain_errors = {
        "ANONYMOUS_RETENTION_DAYS": lazy_agent_gettext("Enter a whole number of days, 1 or more."),
        "IDENTIFIED_RETENTION_DAYS": lazy_agent_gettext(
            "Enter a whole number of days, 1 or more, or leave it empty to keep them until "
            "erased."),
        "RESTRICTED_GRACE_DAYS": lazy_agent_gettext("Enter a whole number of days, 1 or more."),
    }

    anonymous_retention_days = DaysField(
        lazy_agent_gettext("Anonymous conversations are kept for (days)"),
        validators=[InputRequired()],
        description=lazy_agent_gettext("No name, e-mail, phone or company given. Default 270 "
                                       "(nine months)."),
    )
    identified_retention_days = DaysField(
        lazy_agent_gettext("Identified conversations are kept for (days)"),
        validators=[Optional()],
        description=lazy_agent_gettext("Leave empty to keep them until the person asks for "
                                       "erasure."),
    )
    restricted_grace_days = DaysField(
        lazy_agent_gettext("Restricted subjects are kept frozen for (days)"),
        validators=[InputRequired()],
        description=lazy_agent_gettext("After a restriction, data is purged when this grace "
                                       "period ends. Default 183 (six months)."),
    )


class WidgetForm(SettingsForm):
    """The pre-chat form, the consent wording and the widget's look."""

    blank_is_none = ("privacy_policy_url",)
    plain_errors = {
        "WIDGET_COLOR": lazy_agent_gettext("Choose a colour like #2563eb."),
        "WIDGET_TITLE": lazy_agent_gettext("Give the widget a title, such as Chat with us."),
        "WIDGET_GREETING": lazy_agent_gettext("Write the greeting as plain text, or leave it "
                                              "empty."),
        "PRIVACY_POLICY_URL": lazy_agent_gettext(
            "Enter an address starting with https:// or a path on this site starting with /, "
            "or leave it empty for the built-in policy page."),
        "PRIVACY_POLICY_VERSION": lazy_agent_gettext("Enter a version, such as 2 or 2024-05."),
        "CONSENT_TEXT": lazy_agent_gettext("Write the sentence visitors tick to consent; it "
                                           "cannot be empty."),
        "MARKETING_CONSENT_TEXT": lazy_agent_gettext("Write the sentence visitors tick to "
                                                     "receive news; it cannot be empty."),
        "PRECHAT_FIELDS": lazy_agent_gettext("Choose among the fields listed."),
        "PRECHAT_REQUIRED": lazy_agent_gettext("Choose among the fields listed."),
    }

    prechat_fields = CheckboxesField(
        lazy_agent_gettext("Pre-chat fields shown"),
        choices=[SelectChoice(f, _field_name(f)) for f in PRECHAT_FIELD_CHOICES]
    )
    prechat_required = CheckboxesField(
        lazy_agent_gettext("Pre-chat fields required"),
        choices=[SelectChoice(f, _field_name(f)) for f in PRECHAT_FIELD_CHOICES]
    )
    consent_text = WordingField(
        lazy_agent_gettext("Consent wording"), description=lazy_agent_gettext(
            "Shown beside the privacy-policy box, kept in each consent record with its "
            'language. One text for every language, or one per language as JSON: {"en": '
            '"...", "de": "..."} (other languages then get the default language\'s text). The '
            "built-in text is shown translated in every language.")
    )
    marketing_consent_text = WordingField(
        lazy_agent_gettext("Marketing opt-in wording"),
        description=lazy_agent_gettext('One text, or one per language as JSON: {"en": "...", '
                                       '"de": "..."}.'),
    )
    privacy_policy_url = StringField(
        lazy_agent_gettext("Privacy policy URL"),
        description=lazy_agent_gettext("Leave empty to use the built-in policy page.")
    )
    privacy_policy_version = StringField(
        lazy_agent_gettext("Privacy policy version"),
        description=lazy_agent_gettext("Change it when the policy changes: returning visitors "
                                       "consent again."),
    )
    widget_title = StringField(lazy_agent_gettext("Widget title"))
    widget_greeting = StringField(lazy_agent_gettext("Greeting"))
    widget_color = StringField(lazy_agent_gettext("Widget colour"),
                               description=lazy_agent_gettext("Like #2563eb."))
    office_hours = OfficeHoursField(
        "Office hours",
        render_kw={"rows": 4, "placeholder": "Europe/Berlin\nMon-Fri 09:00-17:00\nSat 10:00-14:00"},
        description="When the team answers: a line with the time zone, then a line per day "
        "or run of days, such as Mon-Fri 09:00-17:00 (a day left out is closed). Leave empty "
        "for around the clock. Visitors see someone can answer only within these hours with "
        "an agent online; otherwise they leave a message answered by e-mail.",
    )

    def check_together(self, values: dict[str, Any]) -> bool:
        ok = True
        missing = missing_required(values["PRECHAT_FIELDS"], values["PRECHAT_REQUIRED"])
        if missing:
            names = [str(_field_name(f)) for f in missing]
            if len(names) == 1:
                error = _a("%(names)s is required but not shown: tick it under “Pre-chat "
                           "fields shown” too, or untick it here.", names=names[0])
            else:
                error = _a("%(names)s are required but not shown: tick them under “Pre-chat "
                           "fields shown” too, or untick them here.",
                           names=_a("%(items)s and %(last)s", items=", ".join(names[:-1]),
                                    last=names[-1]))
            self.prechat_required.errors = [*self.prechat_required.errors, error]
            ok = False
        languages = config_value("LANGUAGES")
        for key in ("CONSENT_TEXT", "MARKETING_CONSENT_TEXT"):
            try:
                check_wording_languages(key, values[key], languages)
            except ConfigError:
                field = self[key.lower()]
                unknown = sorted(set(values[key]) - set(languages))
                field.errors = [*field.errors, _a(
                    "The site does not offer %(unknown)s. Write texts only for the languages "
                    "it offers: %(offered)s.", unknown=", ".join(unknown),
                    offered=", ".join(languages))]
                ok = False
        return ok


# -- model forms -------------------------------------------------------------------------


class AgentCreateForm(AdminSecureForm):
    """A new team member."""

    email = EmailField(lazy_agent_gettext("E-mail"), validators=[InputRequired()])
    full_name = StringField(lazy_agent_gettext("Full name"), validators=[InputRequired()])
    display_name = StringField(
        lazy_agent_gettext("Display name"), validators=[Optional()],
        description=lazy_agent_gettext("What visitors see beside replies, such as Jane or "
                                       "Jane S. Leave empty for the first name (titles such "
                                       "as Dr. are skipped)."),
    )
    password = PasswordField(
        lazy_agent_gettext("Password"), validators=[InputRequired()],
        description=lazy_agent_gettext("At least 10 characters."),
    )
    permissions = CheckboxesField(
        lazy_agent_gettext("Permissions"),
        choices=[SelectChoice(p, PERMISSION_LABELS[p]) for p in PERMISSIONS],
        default=["send_messages"],
    )
    is_admin = BooleanField(lazy_agent_gettext("Admin (holds every permission)"))


class AgentEditForm(AdminSecureForm):
    """What can change on a team member (deleting is its own action)."""

    display_name = StringField(
        lazy_agent_gettext("Display name"), validators=[Optional()],
        description=lazy_agent_gettext("What visitors see beside replies. Leave empty to "
                                       "keep it."),
    )
    permissions = CheckboxesField(
        lazy_agent_gettext("Permissions"),
        choices=[SelectChoice(p, PERMISSION_LABELS[p]) for p in PERMISSIONS],
    )
    is_admin = BooleanField(lazy_agent_gettext("Admin (holds every permission)"))
    is_active = BooleanField(
        lazy_agent_gettext("Enabled"),
        description=lazy_agent_gettext("A disabled member is signed out at once and cannot "
                                       "sign in."),
    )


class CampaignForm(AdminSecureForm):
    """A manual or automatic campaign."""

    name = StringField(lazy_agent_gettext("Name"), validators=[InputRequired()])
    subject = StringField(lazy_agent_gettext("Subject"), validators=[InputRequired()])
    body = TextAreaField(
        lazy_agent_gettext("Message"), validators=[InputRequired()],
        description=lazy_agent_gettext("Plain text. E-mails add an unsubscribe link below it."),
    )
    channel = SelectField(lazy_agent_gettext("Channel"), choices=[
        SelectChoice("email", lazy_agent_gettext("E-mail")),
        SelectChoice("chat", lazy_agent_gettext("Chat notice"))])
    kind = SelectField(
        lazy_agent_gettext("Kind"),
        choices=[SelectChoice("manual", lazy_agent_gettext("Manual: sent when you choose")),
                 SelectChoice("automatic", lazy_agent_gettext(
                     "Automatic: sent after a contact's first chat"))],
    )
    delay_days = IntegerField(
        lazy_agent_gettext("Days after the first chat (automatic only)"),
        validators=[Optional(), NumberRange(min=0)],
    )
    is_active = BooleanField(lazy_agent_gettext("Active"), default=True)
