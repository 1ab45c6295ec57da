"""Card numbers and IBANs are masked before a message is stored or relayed."""
from __future__ import annotations

import json
import logging
import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import select

from flask_gdprchat.chat.conversations import post_notice, prepare_text
from flask_gdprchat.core.config import ConfigError
from flask_gdprchat.core.database import database_files
from flask_gdprchat.core.masking import (
    BULLET,
    IBAN_LENGTHS,
    iban_valid,
    luhn_valid,
    mask_text,
    masked_form,
)
from flask_gdprchat.core.models import Conversation, Message, MessageEdit
from flask_gdprchat.core.state import session, state
from tests.plugins.rights import files_holding

# -- building valid and invalid numbers ---------------------------------------------------


def luhn_check_digit(body: str) -> str:
    """The digit that makes ``body`` + digit pass Luhn (computed independently)."""
    total = 0
    for i, char in enumerate(reversed(body)):
        d = int(char)
        if i % 2 == 0:  # these get doubled once the check digit is appended
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def iban_check_digits(country: str, bban: str) -> str:
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{98 - int(numeric) % 97:02d}"


def with_separators(draw, digits: str) -> str:
    """``digits`` with, between any two, nothing, a space or a dash."""
    seps = draw(st.lists(st.sampled_from(["", " ", "-"]), min_size=len(digits) - 1,
                         max_size=len(digits) - 1))
    return digits[0] + "".join(s + d for s, d in zip(seps, digits[1:], strict=True))


@st.composite
def card_numbers(draw, valid: bool = True) -> tuple[str, str]:
    """(as typed, digits only) of a 13-19 digit number, Luhn-valid or not."""
    length = draw(st.integers(13, 19))
    body = draw(st.text("0123456789", min_size=length - 1, max_size=length - 1))
    check = luhn_check_digit(body)
    if not valid:
        check = draw(st.sampled_from([d for d in "0123456789" if d != check]))
    digits = body + check
    return with_separators(draw, digits), digits


@st.composite
def ibans(draw, valid: bool = True) -> tuple[str, str]:
    """(as typed, compact) of an IBAN of a known country, valid or with wrong check digits."""
    country = draw(st.sampled_from(sorted(IBAN_LENGTHS)))
    bban = draw(st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                        min_size=IBAN_LENGTHS[country] - 4, max_size=IBAN_LENGTHS[country] - 4))
    check = iban_check_digits(country, bban)
    if not valid:
        check = draw(st.sampled_from([f"{n:02d}" for n in range(100) if f"{n:02d}" != check]))
    compact = country + check + bban
    grouped = " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))
    typed = draw(st.sampled_from([compact, grouped, grouped.lower()]))
    return typed, compact


# -- the pure functions --------------------------------------------------------------------


@given(card_numbers())
@example(("4111 1111 1111 1111", "4111111111111111"))
def test_every_luhn_valid_card_number_is_masked_down_to_its_last_four(card):
    typed, digits = card
    assert luhn_valid(digits)
    masked, kinds = mask_text(f"my card is {typed}, thanks")
    assert kinds == ["card"]
    assert masked == f"my card is {masked_form(digits)}, thanks"
    assert masked_form(digits).endswith(" " + digits[-4:])
    assert masked_form(digits).count(BULLET) == len(digits) - 4
    assert not re.search(r"\d{5}", masked) and typed not in masked


@given(card_numbers(valid=False))
@example(("4111111111111112", "4111111111111112"))
def test_a_number_that_fails_luhn_stays_exactly_as_typed(card):
    typed, _digits = card
    text = f"order {typed} shipped"
    assert mask_text(text) == (text, [])


@given(ibans())
@example(("DE89 3704 0044 0532 0130 00", "DE89370400440532013000"))
def test_every_valid_iban_is_masked_down_to_its_last_four(iban):
    typed, compact = iban
    assert iban_valid(typed)
    masked, kinds = mask_text(f"IBAN: {typed} please")
    assert kinds == ["iban"]
    assert masked == f"IBAN: {masked_form(compact)} please"
    assert masked_form(compact).endswith(compact[-4:])
    assert compact not in masked.upper().replace(" ", "")


@given(ibans(valid=False))
def test_an_iban_with_wrong_check_digits_stays_as_typed(iban):
    typed, compact = iban
    assert not iban_valid(compact)
    text = f"IBAN: {typed} please"
    assert mask_text(text, ["iban"]) == (text, [])


@pytest.mark.parametrize("text", [
    "call +49 30 1234 5678",
    "or +44 20 7946 0958, or 0049-30-1234-5678",
    "order 4111111111111112 and ref 2024-11-05",
    "DE00 3704 0044 0532 0130 00 (wrong check digits)",
    "DE89 3704 0044 0532 0130 0 (one digit short for Germany)",
])
def test_phone_numbers_dates_and_failed_checksums_are_untouched(text):
    assert mask_text(text) == (text, [])


@given(st.text().filter(lambda s: not any(c.isdigit() for c in s)))
def test_text_without_numbers_comes_back_unchanged(text):
    assert mask_text(text) == (text, [])


@given(st.lists(st.one_of(card_numbers(), ibans(), card_numbers(valid=False)), max_size=4))
def test_masking_twice_changes_nothing_more(values):
    once, _ = mask_text(" and ".join(typed for typed, _ in values))
    assert mask_text(once) == (once, [])


def test_only_the_patterns_asked_for_are_masked():
    text = "4111 1111 1111 1111 / DE89 3704 0044 0532 0130 00"
    assert mask_text(text, ["iban"])[0] == "4111 1111 1111 1111 / " + masked_form(
        "DE89370400440532013000")
    assert mask_text(text, ["card"])[0].startswith("•••• •••• •••• 1111 / DE89 3704")
    assert mask_text(text, []) == (text, [])
    with pytest.raises(ValueError, match="unknown mask pattern"):
        mask_text(text, ["phone"])


# -- configuration --------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [["card", "phone"], "card", None, [1]])
def test_a_bad_mask_pattern_fails_at_start_up_naming_the_key(make_app, bad):
    with pytest.raises(ConfigError, match="GDPRCHAT_MASK_PATTERNS"):
        make_app(GDPRCHAT_MASK_PATTERNS=bad)


def test_an_empty_list_switches_masking_off(make_app):
    app = make_app(GDPRCHAT_MASK_PATTERNS=[])
    with app.app_context():
        assert prepare_text("4111 1111 1111 1111") == ("4111 1111 1111 1111", [])


def test_the_length_limit_applies_to_what_was_typed(make_app):
    app = make_app(GDPRCHAT_MAX_MESSAGE_LENGTH=16)
    with app.app_context():
        # 16 digits fit; their masked form is longer, and is still stored.
        assert prepare_text("4111111111111111") == ("•••• •••• •••• 1111", ["card"])


def test_a_notice_is_masked_too(app_ctx, make_contact):
    contact_id = make_contact("notice@example.test")
    conversation = session().scalars(
        select(Conversation).where(Conversation.contact_id == contact_id)).one()
    message_id = post_notice(conversation.id, "Refund to DE89 3704 0044 0532 0130 00 is on its way")
    assert session().get(Message, message_id).text == (
        f"Refund to {masked_form('DE89370400440532013000')} is on its way")


@pytest.mark.parametrize("patterns, words", [(["card", "iban"], "Card numbers and IBANs"),
                                              (["iban"], "IBANs"), ([], None)])
def test_the_privacy_page_says_what_is_masked(make_app, patterns, words):
    page = make_app(GDPRCHAT_MASK_PATTERNS=patterns).test_client().get("/gdprchat/privacy")
    html = page.get_data(as_text=True)
    if words is None:
        assert 'id="gdprchat-masking"' not in html
    else:
        assert f'<li id="gdprchat-masking"><strong>{words}</strong> that you type' in html


# -- end to end ----------------------------------------------------------------------------

TYPED = ("my card 4111 1111 1111 1111 and IBAN DE89 3704 0044 0532 0130 00, "
         "order 4111111111111112, call +49 30 1234 5678")
EXPECTED = ("my card •••• •••• •••• 1111 and IBAN •• •••• •••• •••• •••• 3000, "
            "order 4111111111111112, call +49 30 1234 5678")
ORIGINALS = ["4111111111111111", "4111 1111 1111 1111",
             "DE89370400440532013000", "DE89 3704 0044 0532 0130 00"]


def test_the_original_numbers_never_reach_agent_export_database_or_log(
        app, chat_server, chat_visitor, chat_agent, caplog):
    caplog.set_level(logging.DEBUG)
    url = chat_server.url
    agent = chat_agent(url)
    chat, visitor = chat_visitor(url, name="Paula Payer", email="paula@example.test")
    cid = chat["conversation_id"]

    ack = visitor.call("send_message", {"conversation_id": cid, "text": TYPED})
    assert ack["ok"] is True
    assert ack["message"]["text"] == EXPECTED
    assert ack["message"]["masked"] == ["card", "iban"]
    relayed = agent.wait_for("message", lambda d: d["id"] == ack["message"]["id"])
    assert relayed["text"] == EXPECTED

    # A message with nothing to hide says nothing about masking.
    plain = visitor.call("send_message", {"conversation_id": cid, "text": "thanks!"})
    assert plain["ok"] is True and "masked" not in plain["message"]

    # An agent's edit is masked the same way, and the edit history keeps only masked text.
    sent = agent.call("send_message", {"conversation_id": cid, "text": "Refund to 4111 1111 1111 1111?"})
    assert sent["message"]["text"] == "Refund to •••• •••• •••• 1111?"
    edited = agent.call("edit_message", {"message_id": sent["message"]["id"],
                                         "text": "Refund to DE89 3704 0044 0532 0130 00?"})
    assert edited["ok"] is True and edited["message"]["masked"] == ["iban"]

    with app.app_context():
        stored = [m.text for m in session().scalars(
            select(Message).where(Message.conversation_id == cid).order_by(Message.id))]
        assert stored[0] == EXPECTED
        assert [e.previous_text for e in session().scalars(select(MessageEdit))] == [
            "Refund to •••• •••• •••• 1111?"]
        export = json.loads(state.chat.export_subject("paula@example.test", "json"))
        exported = json.dumps(export, ensure_ascii=False)
        assert EXPECTED in exported
        files = database_files()
        assert any(str(path).endswith("-wal") for path in files)
        assert files_holding(files, ORIGINALS) == {}
    assert not [value for value in ORIGINALS if value in exported]
    assert not [value for value in ORIGINALS if value in caplog.text]
