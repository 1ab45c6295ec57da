"""The agents' language: the console and its sign-in page, in their own catalog.

Agents read a translation domain of their own, ``gdprchat_agents`` (catalogs in
``flask_gdprchat/translations/<lang>/LC_MESSAGES/gdprchat_agents.mo``), apart
from the visitors' ``gdprchat``: the visitors' 24 languages are not held back by
staff screens, and agents get the languages their catalog is written in.

The language of an agent page is decided in this order:

1. ``?lang=`` (one of :data:`AGENT_LANGUAGES`),
2. the browser's ``Accept-Language``,
3. English.

Agent text is marked with :func:`agent_gettext` (``_a``), :func:`agent_ngettext`,
:func:`agent_pgettext` and :func:`lazy_agent_gettext`: names the visitors' extraction does not look
for, so no agent text reaches the visitors' template, and the agents'
extraction (``babel_agents.cfg``, keywords :data:`AGENT_KEYWORDS`) reads nothing
else. The console's script marks its words with ``_a("...")`` too; the page
carries them translated (:func:`script_words`).
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from babel.messages.extract import extract
from babel.support import NullTranslations, Translations
from flask import current_app, has_app_context, has_request_context, request, url_for
from flask_babel.speaklater import LazyString

from flask_gdprchat.core.i18n import SOURCE_LANGUAGE, TRANSLATED_DEFAULTS, TRANSLATIONS_DIR

#: The agents' gettext domain (the visitors' is ``gdprchat``).
AGENT_DOMAIN = "gdprchat_agents"
#: The languages agent pages are written in: those with a ``gdprchat_agents`` catalog.
AGENT_LANGUAGES = ("en", "de")
#: What the agents' extraction looks for (``make i18n-agents-extract`` passes the same).
AGENT_KEYWORDS = ("_a", "agent_gettext", "agent_ngettext:1,2", "agent_pgettext:1c,2",
                  "lazy_agent_gettext")


# -- choosing the language ----------------------------------------------------------------


def agent_language(tag: Any) -> str | None:
    """The agent language a tag names (``de``, ``de-AT``, ``de_AT``), or None."""
    if not isinstance(tag, str) or not tag.strip():
        return None
    primary = tag.strip().replace("_", "-").split("-", 1)[0].lower()
    return primary if primary in AGENT_LANGUAGES else None


def choose_agent_language() -> str:
    """Decide the language of this agent request (no caching): see the module's order."""
    if not has_request_context():
        return SOURCE_LANGUAGE
    chosen = agent_language(request.args.get("lang"))
    if chosen:
        return chosen
    # In the browser's order of preference, each tag by its language: de-AT is German.
    for tag, _quality in request.accept_languages:
        chosen = agent_language(tag)
        if chosen:
            return chosen
    return SOURCE_LANGUAGE


def agent_locale() -> str:
    """The language agent-facing text is in now (decided once per request)."""
    if not (has_app_context() and has_request_context()):
        return SOURCE_LANGUAGE
    # On the request, not on g: an app context can outlive several requests.
    chosen = getattr(request, "_gdprchat_agent_locale", None)
    if chosen is None:
        chosen = choose_agent_language()
        request._gdprchat_agent_locale = chosen  # type: ignore[attr-defined]
    return str(chosen)


# -- translating ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def agent_translations(language: str) -> NullTranslations:
    """The compiled agents' catalog of ``language`` (an empty one when none is shipped)."""
    return Translations.load(str(TRANSLATIONS_DIR), [language], AGENT_DOMAIN)


def agent_gettext(message: str, **variables: Any) -> str:
    """``message`` in the agent's language, ``%(name)s`` placeholders filled."""
    text = agent_translations(agent_locale()).gettext(str(message)) or str(message)
    return text % variables if variables else text


_a = agent_gettext


def agent_ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    """The singular or plural form for ``num`` (available as ``%(num)s``)."""
    variables.setdefault("num", num)
    text = agent_translations(agent_locale()).ngettext(singular, plural, num)
    if not text:  # an untranslated plural compiles to "": show the source instead
        text = singular if num == 1 else plural
    return text % variables


def agent_pgettext(context: str, message: str, **variables: Any) -> str:
    """``message`` as it reads in ``context``: one English word, two German ones (a tab
    says "Unassigned" in a word, a menu in two)."""
    text = str(agent_translations(agent_locale()).pgettext(context, str(message)) or message)
    return text % variables if variables else text


def lazy_agent_gettext(message: str, **variables: Any) -> LazyString:
    """Like :func:`agent_gettext`, translated each time it is turned into text."""
    return LazyString(agent_gettext, message, **variables)


@functools.lru_cache(maxsize=8)
def script_msgids(path: str) -> tuple[str, ...]:
    """The words a script marks with ``_a("...")``, in order, each once.

    Read with the extractor that writes them into the agents' template, so the
    page carries exactly the words the catalog has for the script.
    """
    with open(path, "rb") as handle:
        found = extract("javascript", handle, keywords={"_a": None}, comment_tags=())
        return tuple(dict.fromkeys(str(message) for _line, message, _notes, _context in found))


def script_words(path: str | Path) -> dict[str, str]:
    """The words of a script in the agent's language, keyed by their English."""
    return {msgid: agent_gettext(msgid) for msgid in script_msgids(str(path))}


# -- agent pages ----------------------------------------------------------------------------


def agent_url_for(endpoint: str, **values: Any) -> str:
    """``url_for`` that keeps a ``?lang=`` the agent chose, on links to our own views.

    So an agent who picked a language keeps it through the console's links,
    forms and the requests its script makes, whatever the browser says.
    """
    chosen = agent_language(request.args.get("lang")) if has_request_context() else None
    if chosen and "lang" not in values and endpoint.startswith(("gdprchat.", ".")) \
            and not endpoint.endswith("static"):
        values["lang"] = chosen
    return url_for(endpoint, **values)


#: Settings agents read in their language while the site keeps the built-in default
#: (the visitors' catalog has the same defaults in :data:`TRANSLATED_DEFAULTS`).
AGENT_DEFAULTS = {
    "CONTROLLER_NAME": lazy_agent_gettext("The site owner"),
}


def agent_setting(key: str) -> Any:
    """A ``GDPRCHAT_`` setting as agents read it: its built-in default translated."""
    value = current_app.config.get("GDPRCHAT_" + key) if has_app_context() else None
    if key in AGENT_DEFAULTS and value == TRANSLATED_DEFAULTS.get(key):
        return str(AGENT_DEFAULTS[key])
    return value


def agent_page_context() -> dict[str, Any]:
    """What agent templates call (``_a``, ``agent_gettext``, ``agent_ngettext``),
    the page's language as ``lang``, a ``url_for`` that keeps ``?lang=``, and
    ``controller_name`` as agents read it."""
    return {
        "controller_name": agent_setting("CONTROLLER_NAME"),
        "_a": agent_gettext,
        "agent_gettext": agent_gettext,
        "agent_ngettext": agent_ngettext,
        "agent_pgettext": agent_pgettext,
        "lang": agent_locale(),
        "url_for": agent_url_for,
    }


__all__ = [
    "AGENT_DEFAULTS",
    "AGENT_DOMAIN",
    "AGENT_KEYWORDS",
    "AGENT_LANGUAGES",
    "agent_gettext",
    "agent_language",
    "agent_locale",
    "agent_ngettext",
    "agent_page_context",
    "agent_pgettext",
    "agent_setting",
    "agent_translations",
    "agent_url_for",
    "choose_agent_language",
    "lazy_agent_gettext",
    "script_msgids",
    "script_words",
    "_a",
]
