"""P/unsubscribe/<token>: GET confirms and changes nothing; POST unsubscribes (RFC 8058)."""
from __future__ import annotations

from sqlalchemy import select

from flask_gdprchat.chat.campaigns import unsubscribe_token
from flask_gdprchat.core import signals
from flask_gdprchat.core.models import ConsentRecord, Contact, SubjectRequest
from flask_gdprchat.core.state import session


def _url(app, contact_id: int) -> str:
    with app.app_context():
        return f"/gdprchat/unsubscribe/{unsubscribe_token(contact_id)}"


def _contact(app, contact_id: int) -> Contact:
    with app.app_context():
        contact = session().get(Contact, contact_id)
        session().expunge(contact)
        return contact


def test_get_shows_a_confirmation_and_changes_nothing(app, client, make_contact):
    contact_id = make_contact("reader@example.test")
    response = client.get(_url(app, contact_id))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert '<form method="post">' in page and "Unsubscribe" in page
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert _contact(app, contact_id).unsubscribed_at is None


def test_one_click_post_unsubscribes_at_once_without_a_csrf_token(app, client, make_contact,
                                                                  listen_to):
    contact_id = make_contact("reader@example.test")
    with listen_to(signals.subject_unsubscribed) as sent:
        response = client.post(_url(app, contact_id), data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert "You are unsubscribed" in response.get_data(as_text=True)
    assert response.headers["Referrer-Policy"] == "no-referrer"
    contact = _contact(app, contact_id)
    assert contact.unsubscribed_at is not None and not contact.marketing_consent
    assert sent[0]["channel"] == "one_click"
    with app.app_context():
        marketing = session().scalars(select(ConsentRecord).where(
            ConsentRecord.contact_id == contact_id, ConsentRecord.purpose == "marketing")).one()
        assert marketing.withdrawn_at is not None
        assert session().scalars(select(SubjectRequest.kind)).all() == ["unsubscribe"]


def test_the_pages_button_unsubscribes_through_the_link_channel(app, client, make_contact,
                                                                listen_to):
    contact_id = make_contact("reader@example.test")
    with listen_to(signals.subject_unsubscribed) as sent:
        client.post(_url(app, contact_id), data={"confirm": "1"})
    assert sent[0]["channel"] == "link"
    assert "already unsubscribed" in client.get(_url(app, contact_id)).get_data(as_text=True)


def test_a_forged_token_gives_a_clear_400(app, client, make_contact):
    contact_id = make_contact("reader@example.test")
    url = _url(app, contact_id)
    response = client.post(url[:-3] + "abc", data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 400
    assert "This link does not work" in response.get_data(as_text=True)
    assert _contact(app, contact_id).unsubscribed_at is None


def test_a_token_from_another_site_is_refused(app, make_app, client, make_contact):
    other = make_app(SECRET_KEY="another-site")
    contact_id = make_contact("reader@example.test")
    with other.app_context():
        token = unsubscribe_token(contact_id)
    assert client.get(f"/gdprchat/unsubscribe/{token}").status_code == 400


def test_an_erased_contact_gives_404(app, client, make_contact):
    contact_id = make_contact("reader@example.test")
    url = _url(app, contact_id)
    with app.app_context():
        from flask_gdprchat.core.deletion import delete_contacts

        delete_contacts([contact_id])
        session().commit()
    response = client.get(url)
    assert response.status_code == 404
    assert "we hold no data for this link any more" in response.get_data(as_text=True)
