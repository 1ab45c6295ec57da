"""What masking adds to the message path: microseconds per message.

Times :func:`flask_gdprchat.chat.conversations.prepare_text` (the length and
character checks, then masking) on realistic chat messages, with and without
numbers, against :func:`check_text` alone, inside an app context as on the
message path. The whole path costs about 2.5 ms per message (see
``bench/message_path.py``); masking should stay far below 5 % of that.
Usage: ``python bench/masking.py [rounds]``.
"""
from __future__ import annotations

import os
import sys
import tempfile
import timeit

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from flask import Flask  # noqa: E402

from flask_gdprchat import GDPRChat  # noqa: E402
from flask_gdprchat.chat.conversations import check_text, prepare_text  # noqa: E402

MESSAGES = {
    "short, no numbers": "Hi! Do you ship to Austria?",
    "typical, no numbers": (
        "Hello, I ordered the blue jacket last week and it has not arrived yet. Could you "
        "check where it is? I would also like to know whether I can still change the size."
    ),
    "order and phone numbers": (
        "My order 4111111111111112 from 2024-11-05 is late; call me on +49 30 1234 5678 "
        "or 0151 2345 6789 after 5 pm, reference AB12-3456."
    ),
    "card and IBAN": (
        "Please refund to my card 4111 1111 1111 1111, or to IBAN DE89 3704 0044 0532 "
        "0130 00 if the card does not work."
    ),
    "long (4,000 characters), no numbers": ("The parcel was left at the door and got wet. "
                                            * 90)[:4000],
}


def per_message(func, text: str, rounds: int) -> float:
    """Best of five runs, in microseconds per call."""
    runs = timeit.repeat(lambda: func(text), number=rounds, repeat=5)
    return min(runs) / rounds * 1e6


def main(rounds: int) -> None:
    app = Flask("bench_masking", instance_path=tempfile.mkdtemp())
    app.config.update(SECRET_KEY="bench", GDPRCHAT_SCHEDULER=False)
    GDPRChat(app)
    with app.app_context():
        print(f"{'message':38} {'check':>9} {'+ mask':>9} {'masking':>9} {'of 2.5 ms':>9}")
        for name, text in MESSAGES.items():
            checked = per_message(check_text, text, rounds)
            prepared = per_message(prepare_text, text, rounds)
            extra = prepared - checked
            print(f"{name:38} {checked:7.1f}µs {prepared:7.1f}µs {extra:7.1f}µs "
                  f"{extra / 2500 * 100:8.2f}%")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
