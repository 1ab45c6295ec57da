"""Accessibility of the dashboard and the agent sign-in page, checked by axe-core in Chromium.

axe-core comes from the npm package that ``.ci/run`` installs into ``.ci/node``
(``npm install --prefix .ci/node axe-core``); nothing of it is kept in the
repository. Each screen is checked on a wide screen and a phone; a serious or
critical violation fails the test and is printed with the elements it names.
"""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from flask_gdprchat.core import audit
from flask_gdprchat.core.models import Campaign
from flask_gdprchat.core.state import session
from flask_gdprchat.rights.requests import log_fulfilled, open_request
from tests.conftest import ADMIN_EMAIL, PASSWORD
from tests.plugins.admin import ADMIN_URL

AXE = Path(__file__).resolve().parents[1] / ".ci" / "node" / "node_modules" / "axe-core" / "axe.min.js"

VIEWPORTS = {"wide": (1366, 800), "tablet": (1024, 768), "phone": (390, 844)}

#: Every screen of the dashboard, with ``{contact}`` and ``{campaign}`` filled in.
SCREENS = ["", "team/", "team/new/", "widget/", "retention/", "ropa/", "campaigns/",
           "campaigns/new/", "campaigns/send/{campaign}/", "saved-replies/", "contacts/",
           "contacts/{contact}/", "consents/", "requests/", "audit/"]

BLOCKING = ("serious", "critical")


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.is_file():
        if os.environ.get("GDPRCHAT_TEST_CHROMIUM"):
            pytest.fail(f"{AXE} is missing: run `npm install --prefix .ci/node axe-core`")
        pytest.skip("axe-core is not installed (npm install --prefix .ci/node axe-core)")
    return AXE.read_text(encoding="utf-8")


def _seed(app, make_agent, make_contact) -> dict[str, int]:
    make_agent(ADMIN_EMAIL, name="Ada Admin", admin=True)
    make_agent("sam@example.test", name="Sam Support", permissions=["send_messages", "user_data"])
    contact = make_contact("rita@example.test", name="Rita Reader")
    make_contact(None, marketing=False)
    with app.app_context():
        db = session()
        campaign = Campaign(name="Spring", subject="Spring news", body="Flowers are in.",
                            channel="email", kind="manual")
        db.add(campaign)
        ref = audit.subject_ref("rita@example.test")
        log_fulfilled("export", ref=ref, channel="subject")
        overdue = open_request("erase", ref=ref, channel="agent")
        overdue.due_at = overdue.received_at - dt.timedelta(days=2)
        audit.record("agent_signed_in", actor="agent:1")
        audit.record("subject_rectified", ref=ref, actor="subject", fields=["phone"])
        audit.record("retention_purge", actor="scheduler", counts={"conversations": 3})
        db.commit()
        return {"contact": contact, "campaign": campaign.id}


def _violations(page, axe_source: str) -> list[dict]:
    # Evaluated through the DevTools protocol: the page's own CSP stays in force.
    page.evaluate(axe_source)
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v["impact"] in BLOCKING]


def _describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['impact']}: {v['id']}: {v['help']}")
        for node in v["nodes"][:5]:
            lines.append(f"    {', '.join(map(str, node['target']))}: {node['failureSummary']}")
    return "\n".join(lines)


def assert_no_blocking_violations(found: dict[str, list[dict]]) -> None:
    """Fail naming every screen with a serious or critical violation, and its elements."""
    failing = {screen: v for screen, v in found.items() if v}
    report = "\n".join(f"== {screen}\n{_describe(v)}" for screen, v in failing.items())
    print(report)
    assert not failing, report


@pytest.mark.browser
@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_no_screen_of_the_dashboard_has_a_serious_violation(
    app, make_agent, make_contact, live_server, browser, axe_source, screenshot, viewport
):
    ids = _seed(app, make_agent, make_contact)
    server = live_server(app)
    width, height = VIEWPORTS[viewport]
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"{server.url}/gdprchat/agent/login")
    found = {"agent login": _violations(page, axe_source)}
    screenshot(page, f"a11y-{viewport}-login")
    page.fill("input[name=email]", ADMIN_EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/gdprchat/agent/**")

    for path in SCREENS:
        url = f"{server.url}{ADMIN_URL}/{path.format(**ids)}"
        response = page.goto(url)
        assert response.status == 200, url
        assert page.locator("html").get_attribute("lang") == "en", url
        # Nothing pushes the page wider than the screen (a phone would scroll sideways).
        assert page.evaluate("document.documentElement.scrollWidth") <= width, url
        found[path or "overview"] = _violations(page, axe_source)
        name = (path.format(**ids).strip("/").replace("/", "-") or "overview")
        screenshot(page, f"a11y-{viewport}-{name}", full_page=True)
    context.close()

    assert_no_blocking_violations(found)
    assert errors == []
