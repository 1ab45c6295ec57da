"""``P/unsubscribe/<token>``: the link in every campaign e-mail (RFC 8058).

GET only shows a confirmation page, because mail scanners open links; POST
unsubscribes at once, whether it is the one-click request a mail client sends
(``List-Unsubscribe=One-Click``) or the page's button. The signed token is the
only credential, so these views carry no CSRF check: a mail client's one-click
POST has no form to take a token from.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, make_response, render_template, request

from flask_gdprchat.chat.campaigns import BadUnsubscribeToken, contact_id_from_token
from flask_gdprchat.core.i18n import _, page_context
from flask_gdprchat.core.models import Contact
from flask_gdprchat.core.state import session
from flask_gdprchat.rights.objection import unsubscribe_contact

bp = Blueprint("unsubscribe", __name__, url_prefix="/unsubscribe")
# In the visitor's language (the browser's, or the one picked on the page).
bp.context_processor(page_context)


def _page(template: str, status: int = 200, **context: Any) -> Any:
    response = make_response(render_template(f"gdprchat/unsubscribe/{template}", **context), status)
    # The token is in the URL: never leak it to another site, never cache the page.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _contact(token: str) -> tuple[Contact | None, Any]:
    """The contact a token names, or ``(None, error page)``."""
    try:
        contact_id = contact_id_from_token(token)
    except BadUnsubscribeToken as exc:
        return None, _page("invalid.html", 400, reason=str(exc), expired=exc.expired)
    contact = session().get(Contact, contact_id)
    if contact is None:
        # Erased since the mail was sent: nothing is held, so nothing can be sent.
        return None, _page("invalid.html", 404,
                           reason=_("we hold no data for this link any more"), expired=False)
    return contact, None


@bp.route("/<token>", methods=["GET", "POST"])
def confirm(token: str) -> Any:
    """Confirmation page on GET; unsubscribe on POST."""
    contact, error = _contact(token)
    if contact is None:
        return error
    # GET and HEAD (Flask adds HEAD to every GET route) only show the page:
    # mail scanners and link previewers send both. Only the POST unsubscribes.
    if request.method != "POST":
        return _page("confirm.html", already=contact.unsubscribed_at is not None)
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    unsubscribe_contact(contact, channel="one_click" if one_click else "link")
    session().commit()
    return _page("done.html")
