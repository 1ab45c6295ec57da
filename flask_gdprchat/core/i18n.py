"""The visitor's language: choosing it, translating into it, formatting for it.

The chat has its own translation domain, ``gdprchat`` (catalogs in
``flask_gdprchat/translations/<lang>/LC_MESSAGES/gdprchat.mo``), so it never
reads or changes the host's own catalogs, and it decides the language itself:

1. ``?lang=`` (one of ``GDPRCHAT_LANGUAGES``),
2. the host's Flask-Babel locale, when the host selects one,
3. the browser's ``Accept-Language``,
4. ``GDPRCHAT_DEFAULT_LANGUAGE``.

:func:`init_babel` registers Flask-Babel on a host that does not use it (other
extensions, Flask-Admin among them, need it registered) without a locale
selector, so the host's locale selection stays the host's.
"""
from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from babel import Locale, UnknownLocaleError
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.support import NullTranslations, Translations
from flask import Flask, current_app, g, has_app_context, has_request_context, request, url_for
from flask_babel.speaklater import LazyString

#: Where the catalogs live, inside the package (and the wheel).
TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"
#: Our gettext domain; the host's ``messages`` domain is never touched.
DOMAIN = "gdprchat"
#: The 24 official languages of the EU, the default of ``GDPRCHAT_LANGUAGES``.
EU_LANGUAGES = (
    "bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "ga", "hr",
    "hu", "it", "lt", "lv", "mt", "nl", "pl", "pt", "ro", "sk", "sl", "sv",
)
#: The language of every msgid: what is shown when no catalog has a string.
SOURCE_LANGUAGE = "en"


def N_(message: str) -> str:
    """Mark ``message`` for the catalog without translating it now."""
    return message


#: Built-in defaults of settings that are shown to visitors. While a setting
#: keeps its default, visitors read it in their language; a site's own text is
#: shown as written (or per language, for the consent wordings).
TRANSLATED_DEFAULTS = {
    "CONSENT_TEXT": N_("I agree that my details and messages are used only to answer me "
                       "and are deleted %(days)s days after our last message."),
    "MARKETING_CONSENT_TEXT": N_("Send me news and offers by e-mail. (optional)"),
    "WIDGET_GREETING": N_("Hi! How can we help?"),
    "WIDGET_TITLE": N_("Chat with us"),
    "CONTROLLER_NAME": N_("The site owner"),
}

#: The contact fields as visitors read them in a sentence.
FIELD_LABELS = {
    "name": N_("name"),
    "email": N_("e-mail address"),
    "company": N_("company"),
    "phone": N_("phone number"),
}


# -- choosing the language ----------------------------------------------------------------


def languages() -> list[str]:
    """The languages configured for this site (``GDPRCHAT_LANGUAGES``)."""
    if not has_app_context():
        return [SOURCE_LANGUAGE]
    return list(current_app.config.get("GDPRCHAT_LANGUAGES") or [SOURCE_LANGUAGE])


@functools.lru_cache(maxsize=64)
def is_translated(language: str) -> bool:
    """Whether the package ships translations for ``language`` (English always)."""
    if language == SOURCE_LANGUAGE:
        return True
    catalog = getattr(translations(language), "_catalog", {})
    # The header is stored under ""; Babel compiles an untranslated plural as
    # its English source. A translation is a text that differs from its msgid.
    for key, value in catalog.items():
        msgid = key if isinstance(key, str) else key[0] if key[1] == 0 else None
        if msgid and value and value != msgid:
            return True
    return False


def offered_languages() -> list[str]:
    """The configured languages visitors can get: those with a catalog.

    A page is never labelled ``<html lang="bg">`` while its words are English;
    a language joins as soon as its catalog is compiled.
    """
    return [code for code in languages() if is_translated(code)]


def default_language() -> str:
    """``GDPRCHAT_DEFAULT_LANGUAGE``: the language when nothing else decides."""
    if not has_app_context():
        return SOURCE_LANGUAGE
    return str(current_app.config.get("GDPRCHAT_DEFAULT_LANGUAGE") or SOURCE_LANGUAGE)


def supported(tag: Any) -> str | None:
    """The offered language a tag names (``de``, ``de-AT``, ``de_AT``), or None."""
    if not isinstance(tag, str) or not tag.strip():
        return None
    primary = tag.strip().replace("_", "-").split("-", 1)[0].lower()
    return primary if primary in offered_languages() else None


def _host_locale() -> str | None:
    """The locale the host's own Flask-Babel chose, if the host selects one.

    Flask-Babel registered without a locale selector (by us, or by a host that
    never selects) only ever answers its default, which says nothing about the
    visitor, so it does not count.
    """
    babel = current_app.extensions.get("babel")
    if babel is None or getattr(babel, "locale_selector", None) is None:
        return None
    import flask_babel

    try:
        chosen = flask_babel.get_locale()
    except Exception:  # the host's selector: its failure must not break our pages
        return None
    return str(chosen) if chosen is not None else None


def choose_language() -> str:
    """Decide the language of this request (no caching): see the module's order."""
    if not has_request_context():
        return default_language()
    for candidate in (request.args.get("lang"), _host_locale()):
        chosen = supported(candidate)
        if chosen:
            return chosen
    # In the browser's order of preference, each tag by its language: de-AT is German.
    for tag, _quality in request.accept_languages:
        chosen = supported(tag)
        if chosen:
            return chosen
    return default_language()


def visitor_locale() -> str:
    """The language visitor-facing text is in now (decided once per request).

    Inside :func:`force_locale` it is the forced language (mail to a contact is
    written in the contact's language, whoever sends it).
    """
    if not has_app_context():
        return SOURCE_LANGUAGE
    forced = g.get("_gdprchat_forced_locale")
    if forced:
        return str(forced)
    if not has_request_context():
        return default_language()
    # Kept on the request, not on g: an app context can outlive several requests.
    chosen = getattr(request, "_gdprchat_locale", None)
    if chosen is None:
        chosen = choose_language()
        request._gdprchat_locale = chosen  # type: ignore[attr-defined]
    return str(chosen)


@contextmanager
def force_locale(language: str | None) -> Iterator[str]:
    """Translate into ``language`` inside the block (None or an unknown one: the default)."""
    chosen = supported(language) or default_language()
    previous = g.get("_gdprchat_forced_locale")
    g._gdprchat_forced_locale = chosen
    try:
        yield chosen
    finally:
        g._gdprchat_forced_locale = previous


def language_of(contact: Any) -> str:
    """The language a contact last consented in (their mail is written in it).

    Falls back to the visitor's language in a request, else the default.
    """
    records = [r for r in getattr(contact, "consents", None) or [] if getattr(r, "locale", None)]
    if records:
        latest = max(records, key=lambda r: (r.given_at or dt.datetime.min, r.id or 0))
        chosen = supported(latest.locale)
        if chosen:
            return chosen
    return visitor_locale() if has_request_context() else default_language()


# -- translating -----------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def translations(language: str) -> NullTranslations:
    """The compiled catalog of ``language`` (an empty one when none is shipped)."""
    return Translations.load(str(TRANSLATIONS_DIR), [language], DOMAIN)


def gettext(message: str, **variables: Any) -> str:
    """``message`` in the visitor's language, ``%(name)s`` placeholders filled."""
    text = translations(visitor_locale()).ugettext(str(message)) or str(message)
    return text % variables if variables else text


_ = gettext


def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    """The singular or plural form for ``num`` (available as ``%(num)s``)."""
    variables.setdefault("num", num)
    text = translations(visitor_locale()).ungettext(singular, plural, num)
    if not text:  # an untranslated plural compiles to "": show the source instead
        text = singular if num == 1 else plural
    return text % variables


def lazy_gettext(message: str, **variables: Any) -> LazyString:
    """Like :func:`gettext`, translated each time it is turned into text."""
    return LazyString(gettext, message, **variables)


def field_label(name: str) -> str:
    """A contact field's name in the visitor's language (``e-mail address``)."""
    label = FIELD_LABELS.get(name)
    return gettext(label) if label else name


def translate_default(key: str, value: Any) -> Any:
    """A setting's value as visitors read it: its built-in default translated."""
    default = TRANSLATED_DEFAULTS.get(key)
    if default is not None and value == default:
        return gettext(default)
    return value


# -- formatting ------------------------------------------------------------------------------


def _locale() -> Locale:
    try:
        return Locale.parse(visitor_locale())
    except (UnknownLocaleError, ValueError):
        return Locale.parse(SOURCE_LANGUAGE)


def _utc(moment: dt.datetime) -> dt.datetime:
    # Stored times are naive UTC; pages say "UTC" beside them.
    return moment.replace(tzinfo=dt.timezone.utc) if moment.tzinfo is None else moment


def format_date(moment: dt.date | dt.datetime | None, form: str = "medium") -> str:
    """A date as the visitor's language writes it (``medium``: 1 May 2024)."""
    if moment is None:
        return ""
    return babel_dates.format_date(moment, format=form, locale=_locale())


def format_time(moment: dt.datetime | None, form: str = "HH:mm") -> str:
    """A UTC time of day; by default on the 24-hour clock, unambiguous in every language."""
    if moment is None:
        return ""
    return babel_dates.format_time(_utc(moment), format=form, tzinfo=dt.timezone.utc,
                                   locale=_locale())


def format_datetime(moment: dt.datetime | None) -> str:
    """Date and time (UTC), joined the way the visitor's language joins them."""
    if moment is None:
        return ""
    locale = _locale()
    pattern = babel_dates.get_datetime_format("medium", locale=locale)
    return str(pattern).replace("{1}", format_date(moment)).replace("{0}", format_time(moment))


def format_number(number: float) -> str:
    """A number with the visitor's language's separators."""
    return babel_numbers.format_decimal(number, locale=_locale())


# -- languages on pages ---------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def language_name(language: str) -> str:
    """A language's name in that language itself (``Deutsch``, ``Français``)."""
    try:
        name = Locale.parse(language).get_display_name(language) or language
    except (UnknownLocaleError, ValueError):
        return language
    return name[:1].upper() + name[1:]


def language_links() -> list[dict[str, Any]]:
    """The language switch of a page: this URL with each ``?lang=``."""
    current = visitor_locale()
    links = []
    for code in offered_languages():
        args = request.args.to_dict()
        args["lang"] = code
        links.append({
            "code": code,
            "name": language_name(code),
            "url": request.script_root + request.path + "?" + urlencode(args),
            "current": code == current,
        })
    return links


def url_for_page(endpoint: str, **values: Any) -> str:
    """``url_for`` that keeps a ``?lang=`` the visitor chose, on links to our pages.

    So a visitor who picked a language keeps it from page to page and through
    each form, whatever their browser says.
    """
    chosen = supported(request.args.get("lang")) if has_request_context() else None
    if chosen and "lang" not in values and endpoint.startswith(("gdprchat.", ".")) \
            and not endpoint.endswith("static"):
        values["lang"] = chosen
    return url_for(endpoint, **values)


def template_helpers() -> dict[str, Any]:
    """What our templates call: ``_``, ``gettext``, ``ngettext`` and the formatters,
    plus ``controller_name`` as visitors read it.

    Given to our templates only (a blueprint context processor, or explicitly
    for mail), so a host's own ``_`` in its templates is left alone.
    """
    controller = current_app.config.get("GDPRCHAT_CONTROLLER_NAME") if has_app_context() else None
    return {
        "controller_name": translate_default("CONTROLLER_NAME", controller),
        "_": gettext,
        "gettext": gettext,
        "ngettext": ngettext,
        "format_date": format_date,
        "format_time": format_time,
        "format_datetime": format_datetime,
        "format_number": format_number,
        "language_name": language_name,
    }


def page_context() -> dict[str, Any]:
    """Helpers plus the page's language and its switch (visitor-facing pages)."""
    return {
        **template_helpers(),
        "lang": visitor_locale(),
        "language_links": language_links if has_request_context() else None,
        "url_for": url_for_page,
    }


def init_babel(app: Flask) -> None:
    """Register Flask-Babel on a host that has not, without choosing its locale.

    Flask-Admin (and other extensions) translate through Flask-Babel once it is
    installed, and fail if no app registered it. A host that registers its own
    Flask-Babel, before or after us, keeps full control of it.
    """
    if "babel" in app.extensions:
        return
    from flask_babel import Babel

    # No Jinja set-up: the host's templates keep whatever `_` they had.
    Babel(configure_jinja=False).init_app(app)


__all__ = [
    "DOMAIN",
    "EU_LANGUAGES",
    "N_",
    "TRANSLATED_DEFAULTS",
    "TRANSLATIONS_DIR",
    "choose_language",
    "FIELD_LABELS",
    "default_language",
    "field_label",
    "force_locale",
    "format_date",
    "format_datetime",
    "format_number",
    "format_time",
    "gettext",
    "init_babel",
    "language_links",
    "language_name",
    "language_of",
    "is_translated",
    "languages",
    "lazy_gettext",
    "offered_languages",
    "ngettext",
    "page_context",
    "supported",
    "template_helpers",
    "translate_default",
    "translations",
    "url_for_page",
    "visitor_locale",
    "_",
]
