"""GDPRCHAT_ASYNC_MODE: the chat's own Socket.IO server runs in what the process can run.

The end-to-end proof (a real server on the Redis queue, patched and not) is in
``test_multiprocess.py`` and ``test_gevent_server.py``; these check the choice.
"""
from __future__ import annotations

import sys

import pytest
from flask import Flask
from flask_socketio import SocketIO

from flask_gdprchat import GDPRChat
from flask_gdprchat.core.concurrency import choose_async_mode, patched_by
from flask_gdprchat.core.config import ConfigError


def bare_app(tmp_path, **config) -> Flask:
    app = Flask("async_mode", instance_path=str(tmp_path))
    app.config.update(SECRET_KEY="test", GDPRCHAT_SCHEDULER=False, GDPRCHAT_AUTO_MIGRATE=False,
                      **config)
    return app


def test_gevent_installed_but_not_patched_gives_threading(tmp_path):
    pytest.importorskip("gevent")
    assert patched_by() is None  # the test process is never monkey-patched
    chat = GDPRChat(bare_app(tmp_path))
    assert chat.socketio.async_mode == "threading"


def test_a_patched_process_gets_gevent(monkeypatch):
    class FakeMonkey:
        @staticmethod
        def is_module_patched(name: str) -> bool:
            return name == "socket"

    # Patching the real test process would turn every later test green-threaded.
    monkeypatch.setitem(sys.modules, "gevent.monkey", FakeMonkey)
    assert choose_async_mode(None, message_queue=None) == "gevent"
    assert choose_async_mode("threading", message_queue=None) == "threading"


@pytest.mark.parametrize("mode", ["threading", "gevent"])
def test_an_explicit_mode_is_kept(tmp_path, mode):
    pytest.importorskip("gevent")
    chat = GDPRChat(bare_app(tmp_path, GDPRCHAT_ASYNC_MODE=mode))
    assert chat.socketio.async_mode == mode


def test_gevent_with_a_queue_in_an_unpatched_process_warns(tmp_path, caplog):
    pytest.importorskip("gevent")
    pytest.importorskip("redis")
    GDPRChat(bare_app(tmp_path, GDPRCHAT_ASYNC_MODE="gevent",
                      GDPRCHAT_MESSAGE_QUEUE="redis://127.0.0.1:6379/0"))
    assert "GDPRCHAT_ASYNC_MODE" in caplog.text and "monkey-patched" in caplog.text


@pytest.mark.parametrize("value", ["gevents", "", 1, "asyncio"])
def test_an_unknown_mode_is_refused_at_start_up(tmp_path, value):
    with pytest.raises(ConfigError, match="GDPRCHAT_ASYNC_MODE"):
        GDPRChat(bare_app(tmp_path, GDPRCHAT_ASYNC_MODE=value))


def test_the_hosts_socketio_keeps_its_own_mode(tmp_path):
    pytest.importorskip("gevent")
    app = bare_app(tmp_path, GDPRCHAT_ASYNC_MODE="threading")
    host = SocketIO(app, async_mode="gevent")
    chat = GDPRChat(app)
    assert chat.socketio is host and host.async_mode == "gevent"


def test_a_hosts_socketio_not_yet_on_the_app_keeps_its_mode(tmp_path):
    pytest.importorskip("gevent")
    host = SocketIO(async_mode="gevent")
    chat = GDPRChat(bare_app(tmp_path, GDPRCHAT_ASYNC_MODE="threading"), socketio=host)
    assert chat.socketio is host and host.async_mode == "gevent"
