"""The widget script and the markup that puts it on a page.

The script is rendered per request with the settings in force (pre-chat fields,
consent wording, policy version, look), so dashboard changes apply at once. It
carries nothing about the visitor: loading it is a plain static-like GET.

Its strings come from the catalog, in one language per URL: ``widget.js?lang=de``
is the German widget (cacheable as such). Loaded without ``?lang=``, it is in
the language the request picks (``Accept-Language``, the host's locale) and
reloads itself once with ``?lang=`` when the host page's ``<html lang>`` or the
browser's language asks for another offered language.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request, url_for
from markupsafe import Markup, escape

from flask_gdprchat.chat import consent
from flask_gdprchat.chat.conversations import host_identity
from flask_gdprchat.core.i18n import offered_languages, translate_default, visitor_locale
from flask_gdprchat.core.settings import setting

bp = Blueprint("widget", __name__)


def policy_url() -> str:
    """The privacy policy linked beside the consent box."""
    configured = setting("PRIVACY_POLICY_URL")
    if configured:
        return configured
    # The built-in page, linked by path (its view belongs to the privacy center).
    return url_for("gdprchat.widget.script").rsplit("/", 1)[0] + "/privacy/policy"


def widget_settings() -> dict[str, Any]:
    """Everything the widget needs before consent; nothing about the visitor.

    Texts are in the language of this request (:func:`visitor_locale`).
    """
    wordings = consent.consent_wordings()
    consent_text, policy_link, _shown_in = consent.consent_line()
    return {
        "lang": visitor_locale(),
        "languages": offered_languages(),
        "api": url_for("gdprchat.api.start").rsplit("/", 1)[0],
        "namespace": "/gdprchat",
        "socketPath": "/socket.io",
        "vendor": url_for("gdprchat.static", filename="gdprchat/vendor/socket.io.min.js"),
        "policyUrl": policy_url(),
        "policyVersion": setting("PRIVACY_POLICY_VERSION"),
        # The box's line is this text and a link with these words; recorded as one.
        "consentText": consent_text,
        "policyLinkText": policy_link,
        "marketingText": wordings[consent.MARKETING],
        "fields": list(setting("PRECHAT_FIELDS")),
        "required": list(setting("PRECHAT_REQUIRED")),
        "color": setting("WIDGET_COLOR"),
        "greeting": translate_default("WIDGET_GREETING", setting("WIDGET_GREETING")),
        "title": translate_default("WIDGET_TITLE", setting("WIDGET_TITLE")),
        "maxLength": setting("MAX_MESSAGE_LENGTH"),
    }


def widget_markup() -> Markup:
    """``<script>`` markup for the chat bubble (template global ``gdprchat_widget``).

    When the host's ``identify_visitor`` names a signed-in user, the widget skips
    the pre-chat fields (consent is still asked).
    """
    src = escape(url_for("gdprchat.widget.script"))
    identified = ' data-gdprchat-identified="1"' if host_identity() is not None else ""
    return Markup(f'<script src="{src}" defer{identified}></script>')


@bp.route("/widget.js")
def script() -> Any:
    """The widget script, with the settings in force, in one language."""
    body = render_template("gdprchat/widget.js", settings=widget_settings())
    response = Response(body, mimetype="text/javascript")
    # Settings change at run time: revalidate rather than cache for long; the
    # ETag makes revalidating cheap.
    response.headers["Cache-Control"] = "no-cache"
    if "lang" not in request.args:
        # Without ?lang= the language came from the request's headers.
        response.vary.add("Accept-Language")
    response.add_etag()
    return response.make_conditional(request)
