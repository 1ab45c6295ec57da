"""What text the database can store as given (the rule every input path applies)."""
from __future__ import annotations


def is_storable_text(text: str, *, multiline: bool = False) -> bool:
    """True unless ``text`` holds what no database keeps as given.

    Lone surrogates cannot be encoded as UTF-8 at all and NUL is refused by
    PostgreSQL; a one-line field takes no control characters whatsoever
    (the rule rectification applies too).
    """
    allowed = "\t\n\r" if multiline else ""
    for ch in text:
        code = ord(ch)
        if (code < 32 and ch not in allowed) or 0xD800 <= code <= 0xDFFF:
            return False
    return True


def normalise_email(email: str) -> str:
    """E-mail addresses are stored and compared trimmed and in lower case."""
    return email.strip().lower()
