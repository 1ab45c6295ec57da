"""Campaigns reach only contacts who may receive them, with one-click unsubscribe."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from flask_gdprchat.chat.campaigns import create_and_send, run_automatic_campaigns
from flask_gdprchat.core.eligibility import may_receive_campaigns, may_receive_campaigns_clause
from flask_gdprchat.core.models import Campaign, CampaignDelivery, Contact, Message
from flask_gdprchat.core.state import session
from tests.plugins.admin import ADMIN_URL
from tests.plugins.mail import body_html, body_text


@pytest.fixture
def app(make_app):
    """Campaigns here are sent outside a request, as the CLI and scheduler do."""
    return make_app(GDPRCHAT_PUBLIC_URL="https://shop.example")


@pytest.fixture
def audience(make_contact):
    """One contact of each kind; only ``yes`` may receive campaigns."""
    return {
        "yes": make_contact("yes@example.test"),
        "no_consent": make_contact("noconsent@example.test", marketing=False),
        "unsubscribed": make_contact("unsub@example.test", unsubscribed=True),
        "restricted": make_contact("restricted@example.test", restricted=True),
    }


def test_the_python_rule_and_the_sql_rule_agree(app, audience):
    with app.app_context():
        db = session()
        by_python = {c.id for c in db.scalars(select(Contact)) if may_receive_campaigns(c)}
        by_sql = set(db.scalars(select(Contact.id).where(may_receive_campaigns_clause())))
    assert by_python == by_sql == {audience["yes"]}


def test_an_email_campaign_reaches_only_consenting_contacts(app, smtp_server, audience):
    with app.app_context():
        _campaign, reached = create_and_send("Spring news", "Flowers <b>now</b>.")
    assert reached == 1
    [message] = smtp_server.wait_for(1)
    assert message["To"] == "yes@example.test"
    assert message["X-Envelope-To"] == "yes@example.test"
    assert message["Subject"] == "Spring news"
    link = message["List-Unsubscribe"].strip("<>")
    assert link.startswith("https://shop.example/gdprchat/unsubscribe/")  # GDPRCHAT_PUBLIC_URL
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link in body_text(message)
    assert "Flowers <b>now</b>." in body_text(message)
    assert "Flowers &lt;b&gt;now&lt;/b&gt;." in body_html(message)


def test_the_unsubscribe_link_uses_server_name_outside_a_request(make_app, smtp_server, make_contact):
    app = make_app(SERVER_NAME="chat.example.test", PREFERRED_URL_SCHEME="https")
    with app.app_context():
        from flask_gdprchat.chat.campaigns import unsubscribe_url

        assert unsubscribe_url(7).startswith("https://chat.example.test/gdprchat/unsubscribe/")


def test_the_one_click_post_from_the_mail_unsubscribes(app, smtp_server, audience):
    with app.app_context():
        create_and_send("News", "Hello")
    [message] = smtp_server.wait_for(1)
    link = message["List-Unsubscribe"].strip("<>")
    client = app.test_client()
    path = link.removeprefix("http://localhost")
    assert client.get(path).status_code == 200
    with app.app_context():
        assert session().get(Contact, audience["yes"]).unsubscribed_at is None
    response = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    with app.app_context():
        assert session().get(Contact, audience["yes"]).unsubscribed_at is not None
        _campaign, reached = create_and_send("More news", "Again")
    assert reached == 0


def test_a_campaign_is_not_sent_twice_to_the_same_contact(app, smtp_server, audience):
    with app.app_context():
        campaign, reached = create_and_send("News", "Hello")
        from flask_gdprchat.chat.campaigns import send_campaign

        assert send_campaign(campaign) == 0
        assert session().scalar(select(CampaignDelivery.contact_id)) == audience["yes"]
    assert reached == 1


def test_automatic_campaigns_wait_for_the_delay_and_never_repeat(app, smtp_server, make_contact):
    early = make_contact("early@example.test", chat_days_ago=10)
    make_contact("recent@example.test", chat_days_ago=1)
    make_contact("optout@example.test", chat_days_ago=10, unsubscribed=True)
    with app.app_context():
        db = session()
        db.add(Campaign(name="Follow-up", subject="How was it?", body="Tell us.",
                        channel="email", kind="automatic", delay_days=7))
        db.commit()
        assert run_automatic_campaigns() == 1
        assert run_automatic_campaigns() == 0
        assert db.scalar(select(CampaignDelivery.contact_id)) == early
    [message] = smtp_server.wait_for(1)
    assert message["To"] == "early@example.test"
    with app.app_context():
        later = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(days=7)
        assert run_automatic_campaigns(now=later) == 1  # the recent one, once its week is up
    assert [m["To"] for m in smtp_server.wait_for(2)][1] == "recent@example.test"


def test_a_chat_campaign_posts_a_notice_to_consenting_contacts_only(app, audience):
    with app.app_context():
        _campaign, reached = create_and_send("New hours", "We open at 8.", channel="chat")
        notices = session().scalars(select(Message).where(Message.author == "system")).all()
    assert reached == 1
    assert len(notices) == 1 and "We open at 8." in notices[0].text


def test_the_send_campaign_command(app, smtp_server, audience):
    result = app.test_cli_runner().invoke(
        args=["gdprchat", "send-campaign", "--subject", "Hi", "--body", "News"])
    assert result.exit_code == 0, result.output
    assert "to 1 contact." in result.output
    assert smtp_server.wait_for(1)[0]["To"] == "yes@example.test"


def _campaign(app, **fields) -> int:
    with app.app_context():
        db = session()
        campaign = Campaign(**{"name": "Launch", "subject": "We launched", "body": "Come see.",
                               "channel": "email", "kind": "manual", **fields})
        db.add(campaign)
        db.commit()
        return campaign.id


def _deliveries(app, campaign_id: int) -> int:
    with app.app_context():
        return session().scalar(select(func.count()).select_from(CampaignDelivery)
                                .where(CampaignDelivery.campaign_id == campaign_id))


def test_each_manual_campaign_row_leads_to_its_send_page(app, admin_client):
    manual = _campaign(app)
    automatic = _campaign(app, name="Welcome", kind="automatic", delay_days=2)
    page = admin_client.get(f"{ADMIN_URL}/campaigns/").get_data(as_text=True)
    assert f'href="{ADMIN_URL}/campaigns/send/{manual}/"' in page
    assert f'href="{ADMIN_URL}/campaigns/send/{automatic}/"' not in page
    # Sending is no longer hidden among the bulk actions.
    assert 'data-gdprchat-action="send"' not in page


def test_the_send_page_counts_by_the_one_rule_and_shows_the_mail(app, admin_client, audience,
                                                                 smtp_server):
    campaign_id = _campaign(app, body="Flowers <b>now</b>.")
    response = admin_client.get(f"{ADMIN_URL}/campaigns/send/{campaign_id}/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    recipients = page.split('id="gdprchat-recipients">', 1)[1]
    assert recipients.startswith("1\n"), recipients[:40]  # only audience["yes"]
    assert "Send now to 1 contact</button>" in page
    preview = page.split('id="gdprchat-mail-preview">', 1)[1].split("</pre>", 1)[0]
    assert "Flowers &lt;b&gt;now&lt;/b&gt;." in preview
    assert "Unsubscribe at any time: (each recipient&#39;s own unsubscribe link)" in preview
    # Looking sends nothing.
    assert _deliveries(app, campaign_id) == 0


def test_the_send_page_sends_only_on_a_post_with_the_token(app, smtp_server, audience,
                                                           admin_client, csrf_from):
    campaign_id = _campaign(app)
    url = f"{ADMIN_URL}/campaigns/send/{campaign_id}/"
    assert admin_client.post(url).status_code == 400
    assert _deliveries(app, campaign_id) == 0
    token = csrf_from(admin_client.get(url).get_data(as_text=True))
    response = admin_client.post(url, data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"{ADMIN_URL}/campaigns/")
    [message] = smtp_server.wait_for(1)
    assert message["To"] == "yes@example.test"
    # Inside a request, the link takes the request's host.
    assert message["List-Unsubscribe"].startswith("<http://localhost/gdprchat/unsubscribe/")
    listing = admin_client.get(f"{ADMIN_URL}/campaigns/").get_data(as_text=True)
    assert "&#39;Launch&#39; was sent and reached 1 contact." in listing
    again = admin_client.get(url).get_data(as_text=True)
    assert 'id="gdprchat-recipients">0' in again and "Nobody would receive it now" in again
    assert _deliveries(app, campaign_id) == 1


def test_an_automatic_campaign_cannot_be_sent_from_the_page(app, audience, admin_client,
                                                            csrf_from):
    campaign_id = _campaign(app, name="Welcome", kind="automatic", delay_days=3)
    url = f"{ADMIN_URL}/campaigns/send/{campaign_id}/"
    page = admin_client.get(url).get_data(as_text=True)
    assert "the scheduler sends it to each contact 3 days after their first chat" in page
    assert "Send now" not in page
    token = csrf_from(page)
    assert admin_client.post(url, data={"csrf_token": token}).status_code == 400
    assert _deliveries(app, campaign_id) == 0


def test_the_send_page_needs_the_settings_permission(app, agent_client):
    campaign_id = _campaign(app)
    url = f"{ADMIN_URL}/campaigns/send/{campaign_id}/"
    assert agent_client("user_data", "team").get(url).status_code == 403
    assert agent_client("settings").get(url).status_code == 200
    assert agent_client("settings").get(f"{ADMIN_URL}/campaigns/send/999/").status_code == 404


def test_an_automatic_campaign_needs_a_delay(app, admin_client, csrf_from):
    token = csrf_from(admin_client.get(f"{ADMIN_URL}/campaigns/new/").get_data(as_text=True))
    response = admin_client.post(f"{ADMIN_URL}/campaigns/new/", data={
        "name": "Auto", "subject": "S", "body": "B", "channel": "email", "kind": "automatic",
        "delay_days": "", "csrf_token": token}, follow_redirects=True)
    assert "needs a delay" in response.get_data(as_text=True)
    with app.app_context():
        assert session().scalars(select(Campaign)).all() == []


# -- links in mail sent outside a request ------------------------------------------------


def test_campaign_links_use_the_public_url_outside_a_request(app, make_contact, smtp_server):
    app.config["GDPRCHAT_PUBLIC_URL"] = "https://shop.example/store"
    make_contact("yes@example.test")
    result = app.test_cli_runner().invoke(
        args=["gdprchat", "send-campaign", "--subject", "News", "--body", "Hello"])
    assert result.exit_code == 0, result.output
    message = smtp_server.wait_for(1)[0]
    assert message["List-Unsubscribe"].startswith("<https://shop.example/store/gdprchat/unsubscribe/")


def test_without_a_public_url_no_campaign_mail_goes_out(app, make_contact, smtp_server):
    app.config["GDPRCHAT_PUBLIC_URL"] = None  # and no SERVER_NAME either
    make_contact("yes@example.test")
    result = app.test_cli_runner().invoke(
        args=["gdprchat", "send-campaign", "--subject", "News", "--body", "Hello"])
    assert result.exit_code == 1
    assert "GDPRCHAT_PUBLIC_URL" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert smtp_server.messages == []
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(Campaign)) == 0


def test_the_scheduler_sends_no_automatic_campaign_without_a_public_url(app, make_contact,
                                                                        caplog):
    app.config["GDPRCHAT_PUBLIC_URL"] = None
    make_contact("yes@example.test")
    with app.app_context():
        session().add(Campaign(name="Welcome", subject="Welcome", body="Hi", channel="email",
                               kind="automatic", delay_days=0, is_active=True))
        session().commit()
        with caplog.at_level("ERROR"):
            assert run_automatic_campaigns(dt.datetime(2100, 1, 1)) == 0
    assert "GDPRCHAT_PUBLIC_URL" in caplog.text
