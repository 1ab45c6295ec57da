"""Agents: creation from the command line, Argon2 hashes, sign-in and sign-out."""
from __future__ import annotations

from sqlalchemy import select

from flask_gdprchat.core.models import Agent
from flask_gdprchat.core.state import session

from .conftest import PASSWORD, login


def test_init_db_command_is_idempotent(runner):
    first = runner.invoke(args=["gdprchat", "init-db"])
    second = runner.invoke(args=["gdprchat", "init-db"])
    assert first.exit_code == 0 and second.exit_code == 0
    assert "Database ready" in second.output


def test_create_agent_stores_an_argon2_hash_and_permissions(app, runner):
    result = runner.invoke(args=[
        "gdprchat", "create-agent", "Bob@Example.test", "--name", "Bob Builder",
        "--password", PASSWORD, "--permission", "user_data", "--permission", "send_messages",
    ])
    assert result.exit_code == 0, result.output
    with app.app_context():
        agent = session().scalars(select(Agent)).one()
        assert agent.email == "bob@example.test"
        assert agent.first_name == "Bob"
        assert agent.password_hash.startswith("$argon2id$")
        assert PASSWORD not in agent.password_hash
        assert agent.permission_set == {"user_data", "send_messages"}
        assert not agent.is_admin


def test_create_agent_prompts_for_the_password(app, runner):
    result = runner.invoke(
        args=["gdprchat", "create-agent", "p@example.test", "--name", "Pat", "--admin"],
        input=f"{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert login(app.test_client(), "p@example.test").status_code == 302


def test_create_agent_errors_are_one_line_without_traceback(runner, make_agent):
    make_agent("dup@example.test")
    for args, expected in [
        (["dup@example.test", "--name", "D", "--password", PASSWORD], "already exists"),
        (["not-an-email", "--name", "D", "--password", PASSWORD], "not an e-mail"),
        (["short@example.test", "--name", "D", "--password", "short"], "at least 10"),
    ]:
        result = runner.invoke(args=["gdprchat", "create-agent", *args])
        assert result.exit_code == 1
        assert expected in result.output
        assert "Traceback" not in result.output


def test_login_requires_csrf_and_right_password(app, client, make_agent, csrf_from):
    make_agent("a@example.test")
    no_token = client.post("/gdprchat/agent/login",
                           data={"email": "a@example.test", "password": PASSWORD})
    assert no_token.status_code == 400
    page = client.get("/gdprchat/agent/login")
    token = csrf_from(page.get_data(as_text=True))
    wrong = client.post("/gdprchat/agent/login",
                        data={"email": "a@example.test", "password": "nope", "csrf_token": token})
    assert wrong.status_code == 401
    assert client.get("/gdprchat/agent/").status_code == 302
    ok = client.post("/gdprchat/agent/login",
                     data={"email": "a@example.test", "password": PASSWORD, "csrf_token": token})
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/gdprchat/agent/")
    assert client.get("/gdprchat/agent/").status_code == 200


def test_login_never_redirects_off_site(client, make_agent, csrf_from):
    make_agent("a@example.test")
    page = client.get("/gdprchat/agent/login?next=https://evil.example/")
    token = csrf_from(page.get_data(as_text=True))
    response = client.post("/gdprchat/agent/login?next=https://evil.example/",
                           data={"email": "a@example.test", "password": PASSWORD,
                                 "csrf_token": token})
    assert response.headers["Location"].endswith("/gdprchat/agent/")


def test_logout_is_post_only_and_ends_the_session(client, make_agent, csrf_from):
    make_agent("a@example.test")
    login(client, "a@example.test")
    assert client.get("/gdprchat/agent/logout").status_code == 405
    page = client.get("/gdprchat/agent/login")
    client.post("/gdprchat/agent/logout", data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert client.get("/gdprchat/agent/").status_code == 302


def test_a_disabled_agent_loses_its_session_at_once(app, client, make_agent):
    agent_id = make_agent("a@example.test")
    login(client, "a@example.test")
    assert client.get("/gdprchat/agent/").status_code == 200
    with app.app_context():
        agent = session().get(Agent, agent_id)
        agent.is_active = False
        agent.session_epoch += 1
        session().commit()
    assert client.get("/gdprchat/agent/").status_code == 302


def test_login_is_throttled(client, make_agent, csrf_from):
    make_agent("a@example.test")
    token = csrf_from(client.get("/gdprchat/agent/login").get_data(as_text=True))
    codes = [
        client.post("/gdprchat/agent/login",
                    data={"email": "a@example.test", "password": "bad", "csrf_token": token}).status_code
        for _ in range(11)
    ]
    # Failures only, counted per address and account (see test_hardening.py).
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}
