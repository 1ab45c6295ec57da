"""Who reaches which dashboard screen, and that every form and action needs CSRF."""
from __future__ import annotations

import pytest
from flask_admin import Admin
from sqlalchemy import select

from flask_gdprchat.admin import add_views
from flask_gdprchat.core.models import Agent, Campaign
from flask_gdprchat.core.state import session
from flask_gdprchat.core.subjects import agent_email_is
from tests.plugins.admin import ADMIN_URL

SCREENS = {
    "team/": "team",
    "team/new/": "team",
    "widget/": "settings",
    "retention/": "settings",
    "campaigns/": "settings",
    "campaigns/new/": "settings",
    "contacts/": "user_data",
    "consents/": "user_data",
    "requests/": "user_data",
    "audit/": "user_data",
}


@pytest.mark.parametrize("path", ["", *SCREENS])
def test_signed_out_visitors_are_sent_to_the_sign_in_page(client, path):
    response = client.get(f"{ADMIN_URL}/{path}")
    assert response.status_code == 302
    assert "/gdprchat/agent/login" in response.headers["Location"]


@pytest.mark.parametrize("path,permission", SCREENS.items())
def test_each_screen_needs_its_permission(agent_client, path, permission):
    others = [p for p in ("team", "settings", "user_data") if p != permission]
    without = agent_client("send_messages", *others)
    assert without.get(f"{ADMIN_URL}/{path}").status_code == 403
    with_it = agent_client(permission)
    assert with_it.get(f"{ADMIN_URL}/{path}").status_code == 200


def test_an_agent_without_any_dashboard_permission_is_refused_the_overview(agent_client):
    assert agent_client("send_messages").get(f"{ADMIN_URL}/").status_code == 403
    assert agent_client("user_data").get(f"{ADMIN_URL}/").status_code == 200


def test_the_menu_lists_only_the_screens_an_agent_may_open(agent_client):
    page = agent_client("settings").get(f"{ADMIN_URL}/").get_data(as_text=True)
    assert f'href="{ADMIN_URL}/retention/"' in page
    assert f'href="{ADMIN_URL}/team/"' not in page
    assert f'href="{ADMIN_URL}/audit/"' not in page


def test_admins_open_every_screen_and_the_dashboard_links_to_the_console(admin_client):
    for path in ["", *SCREENS]:
        assert admin_client.get(f"{ADMIN_URL}/{path}").status_code == 200, path
    page = admin_client.get(f"{ADMIN_URL}/").get_data(as_text=True)
    assert 'href="/gdprchat/agent/"' in page
    assert "gdprchat-brand-mark" in page


def test_a_disabled_agent_is_refused_at_its_next_request(app, agent_client):
    from flask_gdprchat.team.agents import update_agent

    member = agent_client("settings")
    assert member.get(f"{ADMIN_URL}/widget/").status_code == 200
    with app.app_context():
        agent_id = session().scalar(select(Agent.id).where(agent_email_is(member.agent_email)))
        update_agent(agent_id, active=False)
    response = member.get(f"{ADMIN_URL}/widget/")
    assert response.status_code == 302 and "/agent/login" in response.headers["Location"]


# -- CSRF -------------------------------------------------------------------------------


def _agent_count(app) -> int:
    with app.app_context():
        return len(session().scalars(select(Agent)).all())


def test_creating_a_team_member_without_the_token_is_refused(app, admin_client, csrf_from):
    form = {"email": "new@example.test", "full_name": "Nina New", "password": "long enough pw",
            "permissions": "send_messages"}
    before = _agent_count(app)
    admin_client.post(f"{ADMIN_URL}/team/new/", data=form)
    assert _agent_count(app) == before
    token = csrf_from(admin_client.get(f"{ADMIN_URL}/team/new/").get_data(as_text=True))
    response = admin_client.post(f"{ADMIN_URL}/team/new/", data={**form, "csrf_token": token})
    assert response.status_code == 302
    assert _agent_count(app) == before + 1


def test_deleting_without_the_token_is_refused(app, admin_client, make_agent, csrf_from):
    victim = make_agent("victim@example.test", name="Vic Tim")
    admin_client.post(f"{ADMIN_URL}/team/delete/", data={"id": victim})
    with app.app_context():
        assert session().get(Agent, victim).deleted_at is None
    page = admin_client.get(f"{ADMIN_URL}/team/").get_data(as_text=True)
    token = csrf_from(page)
    admin_client.post(f"{ADMIN_URL}/team/delete/", data={"id": victim, "csrf_token": token})
    with app.app_context():
        assert session().get(Agent, victim).deleted_at is not None


def test_bulk_actions_without_the_token_are_refused(app, admin_client, make_agent, csrf_from):
    victim = make_agent("victim@example.test", name="Vic Tim")
    form = {"action": "disable", "rowid": str(victim)}
    admin_client.post(f"{ADMIN_URL}/team/action/", data=form)
    with app.app_context():
        assert session().get(Agent, victim).is_active
    token = csrf_from(admin_client.get(f"{ADMIN_URL}/team/").get_data(as_text=True))
    admin_client.post(f"{ADMIN_URL}/team/action/", data={**form, "csrf_token": token})
    with app.app_context():
        assert not session().get(Agent, victim).is_active


def test_creating_a_campaign_without_the_token_is_refused(app, admin_client, csrf_from):
    form = {"name": "Spring", "subject": "Spring news", "body": "Hello", "channel": "email",
            "kind": "manual", "is_active": "y"}
    admin_client.post(f"{ADMIN_URL}/campaigns/new/", data=form)
    with app.app_context():
        assert session().scalars(select(Campaign)).all() == []
    token = csrf_from(admin_client.get(f"{ADMIN_URL}/campaigns/new/").get_data(as_text=True))
    admin_client.post(f"{ADMIN_URL}/campaigns/new/", data={**form, "csrf_token": token})
    with app.app_context():
        assert [c.name for c in session().scalars(select(Campaign))] == ["Spring"]


def test_the_settings_form_without_the_token_is_refused(app, admin_client):
    from flask_gdprchat.core.settings import setting

    response = admin_client.post(f"{ADMIN_URL}/retention/", data={
        "anonymous_retention_days": "30", "restricted_grace_days": "183"})
    assert response.status_code == 400
    with app.test_request_context():
        assert setting("ANONYMOUS_RETENTION_DAYS") == 270


# -- a host's own Flask-Admin ------------------------------------------------------------


def test_a_host_can_add_the_screens_to_its_own_admin(app, agent_client):
    host_admin = Admin(app, name="Shop admin", url="/admin")
    add_views(host_admin)
    admin_client = agent_client(admin=True)
    assert admin_client.get("/admin/gdprchat-retention/").status_code == 200
    # The lists bring the script that confirms deletes and runs bulk actions.
    team = admin_client.get("/admin/gdprchat-team/").get_data(as_text=True)
    assert "/gdprchat/static/gdprchat/admin.js" in team and "data-gdprchat-confirm" in team
    # Ours stays where the contract puts it.
    assert admin_client.get(f"{ADMIN_URL}/retention/").status_code == 200
    with pytest.raises(RuntimeError):
        add_views(host_admin)
    anonymous = app.test_client()
    assert anonymous.get("/admin/gdprchat-team/").status_code == 302
