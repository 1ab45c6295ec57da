"""Job leases: one holder at a time, taken over after expiry, given back on release."""
from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest

from flask_gdprchat.core import leases
from tests.plugins.retention import NOW

TTL = dt.timedelta(minutes=10)


def test_of_two_acquirers_one_wins(make_app: Any, backend: str) -> None:
    app = make_app(backend)
    with app.app_context():
        assert leases.acquire("job", "A", ttl=TTL, now=NOW) is True
        assert leases.acquire("job", "B", ttl=TTL, now=NOW) is False
        assert leases.current_holder("job", now=NOW) == "A"
        # The holder may take it again, which extends it.
        assert leases.acquire("job", "A", ttl=TTL, now=NOW + TTL / 2) is True
        assert leases.acquire("job", "B", ttl=TTL, now=NOW + TTL) is False


def test_an_expired_lease_is_taken_over_and_the_old_holder_knows(
    make_app: Any, backend: str
) -> None:
    app = make_app(backend)
    with app.app_context():
        assert leases.acquire("job", "A", ttl=TTL, now=NOW)
        at_expiry = NOW + TTL
        assert leases.current_holder("job", now=at_expiry) is None
        assert leases.acquire("job", "B", ttl=TTL, now=at_expiry) is True

        assert leases.renew("job", "A", ttl=TTL, now=at_expiry) is False
        assert leases.release("job", "A") is False
        assert leases.current_holder("job", now=at_expiry) == "B"


def test_renewal_keeps_others_out_and_release_lets_them_in(make_app: Any) -> None:
    app = make_app()
    with app.app_context():
        assert leases.acquire("job", "A", ttl=TTL, now=NOW)
        assert leases.renew("job", "A", ttl=TTL, now=NOW + TTL - dt.timedelta(seconds=1))
        assert not leases.acquire("job", "B", ttl=TTL, now=NOW + TTL + dt.timedelta(minutes=1))
        assert leases.release("job", "A") is True
        assert leases.acquire("job", "B", ttl=TTL, now=NOW) is True


def test_leases_of_different_jobs_are_independent(make_app: Any) -> None:
    app = make_app()
    with app.app_context():
        assert leases.acquire("purge", "A", ttl=TTL, now=NOW)
        assert leases.acquire("outbox", "B", ttl=TTL, now=NOW)


def test_many_acquirers_racing_at_once_get_one_winner(make_app: Any, backend: str) -> None:
    app = make_app(backend)
    racers = 8
    barrier = threading.Barrier(racers)
    results: dict[str, bool] = {}
    errors: list[BaseException] = []

    def race(holder: str) -> None:
        try:
            with app.app_context():
                barrier.wait(timeout=30)
                results[holder] = leases.acquire("race", holder, ttl=TTL)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(f"H{i}",)) for i in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    winners = [holder for holder, won in results.items() if won]
    assert len(results) == racers and len(winners) == 1
    with app.app_context():
        assert leases.current_holder("race") == winners[0]


def test_a_lease_must_last_some_time(make_app: Any) -> None:
    app = make_app()
    with app.app_context(), pytest.raises(ValueError, match="positive"):
        leases.acquire("job", "A", ttl=dt.timedelta(0))


def test_holder_ids_differ_within_one_process() -> None:
    assert leases.new_holder_id() != leases.new_holder_id()
    assert len(leases.new_holder_id()) <= 128
