"""Group commit for the message path: many messages, one transaction.

Every chat message must be stored before it is relayed, and on SQLite each
commit costs a WAL write and an fsync. Socket handlers therefore hand their
message to this writer and wait: the first to arrive becomes the leader and
commits everything queued at that moment in one transaction; messages arriving
meanwhile form the next batch. At low load a batch is one message and nothing
waits longer than before; under load the commits are shared. Each waiter gets
its own message id (or its own error) back only after the commit, so "stored
before relayed" and the ``client_msg_id`` rule hold for every message.

Threads and greenlets both work: under gevent the lock and the events are the
monkey-patched ones.
"""
from __future__ import annotations

import datetime as dt
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from flask_gdprchat.core.concurrency import patched_by
from flask_gdprchat.core.state import state

#: Most messages one transaction takes (bounds the time a batch holds the write lock).
MAX_BATCH = 64


@dataclass
class PendingMessage:
    """One message waiting for its batch, and what became of it."""

    params: dict[str, Any]
    ready: threading.Event = field(default_factory=threading.Event)
    #: (message id, created at, reopened) once stored.
    result: tuple[int, dt.datetime, bool] | None = None
    error: BaseException | None = None
    #: Set when this waiter is handed the leader's role instead of a result.
    lead: bool = False


#: Writes one batch on a connection inside a transaction; returns one result per message.
BatchWriter = Callable[[Connection, list[dict[str, Any]]], list[tuple[int, dt.datetime, bool]]]


class MessageWriter:
    """The group committer of one app in one process."""

    def __init__(self, write_batch: BatchWriter) -> None:
        self._write_batch = write_batch
        self._lock = threading.Lock()
        self._queue: deque[PendingMessage] = deque()
        self._writing = False

    def store(self, params: dict[str, Any]) -> tuple[int, dt.datetime, bool]:
        """Store one message (with the others queued now); raises what its write raised."""
        item = PendingMessage(params)
        with self._lock:
            self._queue.append(item)
            leader = not self._writing
            self._writing = True
        if not leader:
            item.ready.wait()
            if item.lead and item.result is None and item.error is None:
                self._lead(item)
        else:
            self._lead(item)
        if item.error is not None:
            raise item.error
        assert item.result is not None
        return item.result

    def _lead(self, me: PendingMessage) -> None:
        while True:
            with self._lock:
                batch = [self._queue.popleft() for _ in range(min(MAX_BATCH, len(self._queue)))]
                if not batch:
                    self._writing = False
                    return
            self._commit(batch)
            if me.result is not None or me.error is not None:
                # Done with our own message: hand the role to the next in line
                # rather than keep serving everyone else's.
                with self._lock:
                    successor = self._queue[0] if self._queue else None
                    if successor is None:
                        self._writing = False
                    else:
                        successor.lead = True
                if successor is not None:
                    successor.ready.set()
                return

    def _commit(self, batch: list[PendingMessage]) -> None:
        engine = state.db.engine
        params = [item.params for item in batch]

        try:
            # The pool is used here, on the event loop; only the statements and
            # the commit run off it (see off_the_event_loop).
            with engine.connect() as connection:

                def write() -> list[tuple[int, dt.datetime, bool]]:
                    with connection.begin():
                        return self._write_batch(connection, params)

                results = off_the_event_loop(write)
        except IntegrityError:
            # One message of the batch broke a rule (a retried client_msg_id
            # that raced its twin): write them one by one, so only it fails.
            for item in batch:
                self._commit_one(item)
            return
        except Exception as exc:  # noqa: BLE001  (each waiter gets the failure to answer)
            for item in batch:
                item.error = exc
                item.ready.set()
            return
        for item, result in zip(batch, results, strict=True):
            item.result = result
            item.ready.set()

    def _commit_one(self, item: PendingMessage) -> None:
        try:
            with state.db.engine.begin() as connection:
                item.result = self._write_batch(connection, [item.params])[0]
        except Exception as exc:  # noqa: BLE001
            item.error = exc
        item.ready.set()


def off_the_event_loop(work: Callable[[], Any]) -> Any:
    """Run blocking database work where it does not stall the other clients.

    Under gevent a commit (an fsync on SQLite) is a C call that blocks every
    greenlet, so no message could even be read, let alone join the batch, while
    it runs. Run there, in gevent's pool of real threads, the commit overlaps
    with reading the next messages. With threads it simply runs here.
    """
    if patched_by() == "gevent":
        import gevent

        return gevent.get_hub().threadpool.apply(work)
    return work()


def writer_for_app(write_batch: BatchWriter) -> MessageWriter:
    """This app's writer in this process (made on first use)."""
    writer: MessageWriter | None = state.extras.get("message_writer")
    if writer is None:
        writer = state.extras.setdefault("message_writer", MessageWriter(write_batch))
    return writer
