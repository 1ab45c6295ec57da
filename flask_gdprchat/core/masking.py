"""Masking of payment details in chat text, before anything stores or relays it.

Visitors paste card numbers and IBANs into chats (GDPR Art. 5(1)(c), 25: keep
no more than the purpose needs). Only numbers that pass their checksum are
masked: a Luhn-valid card number of 13 to 19 digits, and a mod-97-valid IBAN
whose length is the one its country uses. Anything else (order numbers, phone
numbers, references) stays exactly as typed. A masked value keeps its last four
characters, so both sides can still tell which card or account was meant.

A card number is a whole run of digits (single spaces or dashes allowed between
them): digits typed straight on after it ("4111 1111 1111 1111 123") make a
longer number, which is left alone, so that no part of a longer number is ever
masked by chance.

Pure functions on strings: regular expressions, compiled once, find the
candidates; Python code runs only per candidate, never per character of the
surrounding text.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

#: The kinds of value that can be masked, in the order they are applied.
KINDS = ("card", "iban")

BULLET = "\u2022"

# A run of digits with at most one space or dash between two digits. Digits on
# either side would make it part of a longer number, so none may touch it.
_DIGIT_RUN = re.compile(r"(?<![0-9])[0-9](?:[ \u00a0-]?[0-9])*")
_SEPARATORS = re.compile(r"[ \u00a0-]")
CARD_MIN_DIGITS, CARD_MAX_DIGITS = 13, 19

# A candidate IBAN: two letters and two check digits at the start of a word,
# then 11 to 29 letters or digits, optionally in space-separated groups. Where
# it really ends is decided by the checksum and the country's length, since the
# words that follow it look the same to a regular expression.
_IBAN_START = re.compile(
    r"(?<![0-9A-Za-z])[A-Za-z]{2}[0-9]{2}(?: ?[0-9A-Za-z]){11,29}"
)
_ALNUM = re.compile(r"[0-9A-Za-z]")

#: Length of an IBAN by country, from the ISO 13616 registry. A code missing
#: here is no IBAN country, so the text is left alone.
IBAN_LENGTHS: dict[str, int] = {
    # EU
    "AT": 20, "BE": 16, "BG": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "EE": 20,
    "ES": 24, "FI": 18, "FR": 27, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IT": 27,
    "LT": 20, "LU": 20, "LV": 21, "MT": 31, "NL": 18, "PL": 28, "PT": 25, "RO": 24,
    "SE": 24, "SI": 19, "SK": 24,
    # EEA outside the EU
    "IS": 26, "LI": 21, "NO": 15,
    # The rest of Europe
    "AD": 24, "AL": 28, "BA": 20, "BY": 28, "CH": 21, "FO": 18, "GB": 22, "GI": 23,
    "GL": 18, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "RS": 22, "RU": 33, "SM": 27,
    "TR": 26, "UA": 29, "VA": 22, "XK": 20,
    # Elsewhere
    "AE": 23, "AZ": 28, "BH": 22, "BI": 27, "BR": 29, "CR": 22, "DJ": 27, "DO": 28,
    "EG": 29, "FK": 18, "GE": 22, "GT": 28, "IL": 23, "IQ": 23, "JO": 30, "KW": 30,
    "KZ": 20, "LB": 28, "LC": 32, "LY": 25, "MN": 20, "MR": 27, "MU": 30, "NI": 28,
    "OM": 23, "PK": 24, "PS": 29, "QA": 29, "SA": 24, "SC": 31, "SD": 18, "SO": 23,
    "ST": 25, "SV": 28, "TL": 23, "TN": 24, "VG": 24, "YE": 30,
}

# Letters count as two-digit numbers in the IBAN checksum: A=10 ... Z=35.
_IBAN_DIGITS = str.maketrans({chr(ord("A") + i): str(10 + i) for i in range(26)})
_LUHN_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn checksum (payment cards)."""
    if not digits.isdigit() or not digits.isascii():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        total += _LUHN_DOUBLED[digit] if position % 2 else digit
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """Whether ``iban`` (spaces allowed, any case) is a well-formed IBAN.

    Its country must be in the registry (:data:`IBAN_LENGTHS`), its length the
    one that country uses, and its check digits (02 to 98) must pass mod 97 (ISO 7064).
    """
    compact = iban.replace(" ", "").upper()
    if len(compact) != IBAN_LENGTHS.get(compact[:2]) or not compact.isascii():
        return False
    # Check digits run from 02 to 98: 00, 01 and 99 pass mod 97 but are never issued.
    if not (compact[2:4].isdigit() and "02" <= compact[2:4] <= "98" and compact[4:].isalnum()):
        return False
    return int((compact[4:] + compact[:4]).translate(_IBAN_DIGITS)) % 97 == 1


def masked_form(value: str) -> str:
    """Bullets in groups of four, ending with the last four characters of ``value``.

    ``value`` holds no separators: ``"4111111111111111"`` gives
    ``"•••• •••• •••• 1111"``.
    """
    shown = BULLET * (len(value) - 4) + value[-4:]
    head = len(shown) % 4
    groups = [shown[:head]] if head else []
    groups += [shown[i:i + 4] for i in range(head, len(shown), 4)]
    return " ".join(groups)


def mask_cards(text: str) -> tuple[str, int]:
    """``text`` with every Luhn-valid card number masked, and how many were."""
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        digits = _SEPARATORS.sub("", match.group())
        if CARD_MIN_DIGITS <= len(digits) <= CARD_MAX_DIGITS and luhn_valid(digits):
            count += 1
            return masked_form(digits)
        return match.group()

    return _DIGIT_RUN.sub(replace, text), count


def _iban_end(text: str, match: re.Match[str]) -> int | None:
    """Where a valid IBAN starting at ``match`` ends in ``text``, or None.

    It may end only where a word ends (a space inside the candidate, or the
    candidate's end when no letter or digit follows it).
    """
    candidate = match.group()
    ends = [i for i, char in enumerate(candidate) if char == " " and i > 4]
    end = match.end()
    if end == len(text) or not _ALNUM.match(text, end):
        ends.append(len(candidate))
    # The longest valid reading wins: "DE89 ... 00 and" is tried as a whole first.
    for length in reversed(ends):
        if iban_valid(candidate[:length]):
            return match.start() + length
    return None


def mask_ibans(text: str) -> tuple[str, int]:
    """``text`` with every valid IBAN masked, and how many were."""
    pieces: list[str] = []
    position = count = 0
    while True:
        match = _IBAN_START.search(text, position)
        if match is None:
            break
        end = _iban_end(text, match)
        if end is None:
            # Not an IBAN from here: look again from the next word on.
            pieces.append(text[position:match.start() + 1])
            position = match.start() + 1
            continue
        pieces.append(text[position:match.start()])
        pieces.append(masked_form(text[match.start():end].replace(" ", "").upper()))
        position = end
        count += 1
    if not count:
        return text, 0
    pieces.append(text[position:])
    return "".join(pieces), count


_MASKERS = {"iban": mask_ibans, "card": mask_cards}
# IBANs first: the digits of an IBAN may on their own look like a card number.
_ORDER = ("iban", "card")
#: The fewest ASCII digits in text that holds such a value (an IBAN's two check
#: digits; a card's 13), so most messages are passed by one count in C.
_MIN_DIGITS = {"iban": 2, "card": CARD_MIN_DIGITS}
_DROP_DIGITS = dict.fromkeys(range(ord("0"), ord("9") + 1))


def mask_text(text: str, kinds: Iterable[str] = KINDS) -> tuple[str, list[str]]:
    """Mask the ``kinds`` named (from :data:`KINDS`) in ``text``.

    Returns the masked text and the kinds actually found, in the order of
    :data:`KINDS`; text with nothing to mask comes back unchanged.
    """
    wanted = set(kinds)
    unknown = wanted - set(KINDS)
    if unknown:
        raise ValueError(f"unknown mask pattern(s): {sorted(unknown)}; choose from {list(KINDS)}")
    found = set()
    digits = len(text) - len(text.translate(_DROP_DIGITS))
    for kind in _ORDER:
        if kind in wanted and digits >= _MIN_DIGITS[kind]:
            text, count = _MASKERS[kind](text)
            if count:
                found.add(kind)
    return text, [kind for kind in KINDS if kind in found]
