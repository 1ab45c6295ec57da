"""The record of processing activities (GDPR Art. 30), built from what the site does.

:func:`build_record` reads the settings in force (the dashboard's values over the
config, through :func:`~flask_gdprchat.core.settings.setting`) and the declaration
of personal columns (:mod:`flask_gdprchat.core.personal_data`), so the record
changes the moment the site's behaviour does. Hosts and credentials are shown
without user names or passwords: the record is meant to be handed around.
"""
from __future__ import annotations

import datetime as dt
import os
from typing import Any
from urllib.parse import urlsplit

from flask import current_app

from flask_gdprchat.core.clock import utcnow
from flask_gdprchat.core.config import PERMISSIONS, config_value
from flask_gdprchat.core.masking import KINDS as MASK_KINDS
from flask_gdprchat.core.personal_data import PersonalColumn, personal_columns
from flask_gdprchat.core.settings import setting
from flask_gdprchat.core.state import state

TITLE = "Record of processing activities (GDPR Art. 30)"
NONE_CONFIGURED = "none configured"

#: What each table holds, in plain words.
TABLE_DESCRIPTIONS: dict[str, str] = {
    "gdprchat_contacts": "Contacts: the people who chat, anonymous or identified",
    "gdprchat_consents": "Consent records: the proof of each consent given",
    "gdprchat_conversations": "Conversations",
    "gdprchat_messages": "Chat messages",
    "gdprchat_message_edits": "Earlier versions of edited messages",
    "gdprchat_agents": "Team members (agents)",
    "gdprchat_outbox": "Mail waiting to be sent",
}

#: Every personal column, in plain words. A column declared personal but missing
#: here shows as undescribed, and the test of this record fails.
COLUMN_DESCRIPTIONS: dict[str, str] = {
    "gdprchat_contacts.external_id": "the site's own id for a signed-in customer",
    "gdprchat_contacts.name": "name, as given in the pre-chat form or by the site's account",
    "gdprchat_contacts.email": "e-mail address",
    "gdprchat_contacts.company": "company",
    "gdprchat_contacts.phone": "phone number",
    "gdprchat_contacts.ip_address": "IP address (only when IP storage is switched on)",
    "gdprchat_consents.ip_address": "IP address when consenting (only when IP storage is on)",
    "gdprchat_consents.user_agent": "browser description when consenting",
    "gdprchat_conversations.visitor_token_hash":
        "a hash of the visitor's chat key, which ties a browser to its chat",
    "gdprchat_messages.text": "what the visitor and the team wrote in the chat",
    "gdprchat_message_edits.previous_text": "the earlier wording of a message a team member edited",
    "gdprchat_agents.email": "sign-in e-mail address",
    "gdprchat_agents.full_name": "full name",
    "gdprchat_agents.display_name":
        "display name, shown to visitors beside replies (erased on deletion)",
    "gdprchat_agents.first_name":
        "first word of the display name (kept on their messages after deletion unless purged)",
    "gdprchat_agents.photo": "photo",
    "gdprchat_agents.password_hash": "password, as an Argon2 hash (never the password itself)",
    "gdprchat_outbox.to_address": "recipient's e-mail address",
    "gdprchat_outbox.subject": "subject line (a transcript, a privacy link or a campaign)",
    "gdprchat_outbox.body_text": "text of the mail (it may quote the chat)",
    "gdprchat_outbox.body_html": "HTML of the mail (it may quote the chat)",
    "gdprchat_outbox.headers": "mail headers (such as the unsubscribe link)",
}

_SUBJECT_WORDS = {"contact": "visitors and customers", "agent": "team members"}
_MASK_WORDS = {"card": "payment card numbers (Luhn-valid)", "iban": "IBANs (mod-97-valid)"}


def undescribed_columns() -> list[str]:
    """Declared personal columns that :data:`COLUMN_DESCRIPTIONS` does not describe."""
    return [c.where for c in personal_columns() if c.where not in COLUMN_DESCRIPTIONS]


def _column_entry(column: PersonalColumn) -> dict[str, Any]:
    return {
        "column": column.column.name,
        "description": COLUMN_DESCRIPTIONS.get(column.where, "undescribed"),
        "kept_on_delete": column.kept_on_delete,
    }


def _personal_data() -> list[dict[str, Any]]:
    """The declaration, table by table, in the order the schema lists them."""
    tables: dict[str, dict[str, Any]] = {}
    for column in personal_columns():
        entry = tables.setdefault(column.table.name, {
            "table": column.table.name,
            "description": TABLE_DESCRIPTIONS.get(column.table.name, column.table.name),
            "about": _SUBJECT_WORDS.get(column.subject, column.subject),
            "columns": [],
        })
        entry["columns"].append(_column_entry(column))
    return list(tables.values())


def _host(url: str | None) -> str | None:
    """``host[:port]`` of a URL, without user name, password, path or query."""
    if not url:
        return None
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.hostname}:{port}" if port else parts.hostname


def _database() -> dict[str, Any]:
    url = state.db.engine.url
    backend = url.get_backend_name()
    if backend == "sqlite":
        name = os.path.basename(url.database or "") or "in memory"
        return {"backend": "sqlite", "location": f"SQLite file {name} on the application server"}
    where = url.host or "local socket"
    if url.port:
        where = f"{where}:{url.port}"
    if url.database:
        where = f"{where}, database {url.database}"
    return {"backend": backend, "location": where}


def _recipients() -> list[dict[str, Any]]:
    config = current_app.config
    mail_port = config.get("MAIL_PORT")
    mail_host = config.get("MAIL_SERVER") or "not configured"
    mail_security = ("SSL" if config.get("MAIL_USE_SSL")
                     else "STARTTLS" if config.get("MAIL_USE_TLS") else "no TLS configured")
    database = _database()
    queue = _host(config_value("MESSAGE_QUEUE"))
    recipients = [
        {"recipient": "The site's team (agents)",
         "role": "answer chats and requests; each sees what its permissions allow",
         "location": "this site"},
        {"recipient": "Database",
         "role": f"stores every record above ({database['backend']})",
         "location": database["location"]},
        {"recipient": "Mail server (SMTP)",
         "role": f"delivers transcripts, privacy links and campaigns ({mail_security})",
         "location": f"{mail_host}:{mail_port}" if mail_port else mail_host},
    ]
    if queue:
        recipients.append({"recipient": "Message queue (Redis)",
                           "role": "relays chat messages between server processes",
                           "location": queue})
    return recipients


def _retention() -> dict[str, Any]:
    return {
        "anonymous_days": setting("ANONYMOUS_RETENTION_DAYS"),
        "identified_days": setting("IDENTIFIED_RETENTION_DAYS"),
        "restricted_grace_days": setting("RESTRICTED_GRACE_DAYS"),
        "audit_log": "kept: it holds no personal data and proves consent and each request's "
                     "fulfilment (Art. 5(2))",
        "subject_requests": "kept without personal data, as proof of fulfilment",
        "undelivered_mail": "removed by the purge once it is given up",
    }


def _measures(database_backend: str) -> list[dict[str, Any]]:
    masks = [kind for kind in MASK_KINDS if kind in setting("MASK_PATTERNS")]
    store_ip = bool(config_value("STORE_IP"))
    sqlite = database_backend == "sqlite"
    hours = max(1, config_value("TOKEN_MAX_AGE") // 3600)
    return [
        {"measure": "Masking of payment details before storage", "in_force": bool(masks),
         "detail": ("masks " + " and ".join(_MASK_WORDS[k] for k in masks)
                    + " in every message, keeping the last four characters")
         if masks else "switched off (GDPRCHAT_MASK_PATTERNS = [])"},
        {"measure": "No IP addresses stored", "in_force": not store_ip,
         "detail": "IP addresses are stored with consent records (GDPRCHAT_STORE_IP)"
         if store_ip else "IP addresses are not stored"},
        {"measure": "Secure delete", "in_force": sqlite,
         "detail": "SQLite overwrites freed pages and checkpoints its WAL after each erasure"
         if sqlite else f"not applicable to {database_backend}"},
        {"measure": "Hash-chained audit log", "in_force": True,
         "detail": "append-only, each event chained to the previous by its hash; "
                   "'flask gdprchat audit-verify' checks it"},
        {"measure": "Access by permission", "in_force": True,
         "detail": "every view and socket event checks the agent's permission "
                   f"({', '.join(PERMISSIONS)}); a revoked agent is cut off at once"},
        {"measure": "Signed, expiring privacy links", "in_force": True,
         "detail": f"privacy-center links are signed and expire after {hours} h"},
        {"measure": "CSRF protection", "in_force": True,
         "detail": "every form carries a CSRF token; nothing changes on GET"},
        {"measure": "Argon2 password hashing", "in_force": True,
         "detail": "team members' passwords are stored as Argon2id hashes"},
    ]


def build_record(now: dt.datetime | None = None) -> dict[str, Any]:
    """The record of processing as a JSON-ready dict, from the settings in force now."""
    transfers = list(config_value("TRANSFERS_OUTSIDE_EEA"))
    moment = now or utcnow()
    return {
        "title": TITLE,
        "generated_at": moment.isoformat(timespec="seconds") + "Z",
        "controller": {
            "name": config_value("CONTROLLER_NAME"),
            "email": config_value("CONTROLLER_EMAIL"),
        },
        "purposes": [
            {"purpose": "Answering visitors and customers in the support chat, and keeping "
                        "the conversation history",
             "legal_basis": "consent (Art. 6(1)(a)), asked before any chat starts"},
            {"purpose": "Marketing by e-mail or chat",
             "legal_basis": "consent (Art. 6(1)(a)), separate and optional; only for those "
                            "who opted in and have not objected"},
            {"purpose": "Proving consent and the handling of data-subject requests",
             "legal_basis": "legal obligation (Art. 6(1)(c), Art. 5(2), 7(1))"},
        ],
        "data_subjects": [
            {"category": "Visitors",
             "description": "people who chat through the widget; anonymous unless they give "
                            "details"},
            {"category": "Identified customers",
             "description": "visitors who gave a name or contact details, or are signed in "
                            "on the site"},
            {"category": "Agents", "description": "team members who answer the chats"},
        ],
        "personal_data": _personal_data(),
        "prechat_fields": {
            "shown": list(setting("PRECHAT_FIELDS")),
            "required": list(setting("PRECHAT_REQUIRED")),
        },
        "recipients": _recipients(),
        "transfers_outside_eea": transfers or NONE_CONFIGURED,
        "retention": _retention(),
        "technical_measures": _measures(_database()["backend"]),
    }


# -- Markdown ----------------------------------------------------------------------------


def _cell(value: Any) -> str:
    # Table cells: one line, and a pipe would end the cell.
    return str(value).replace("\n", " ").replace("|", "\\|")


def _days(value: int | None, otherwise: str) -> str:
    return otherwise if value is None else f"{value} days"


def render_markdown(record: dict[str, Any]) -> str:
    """The record as a Markdown document, for people and for filing."""
    controller = record["controller"]
    lines = [f"# {record['title']}", "", f"Generated {record['generated_at']}.", "",
             "## Controller", "", f"- Name: {controller['name']}",
             f"- Contact: {controller['email'] or 'not configured'}", "",
             "## Purposes", ""]
    lines += [f"- {p['purpose']}: {p['legal_basis']}." for p in record["purposes"]]
    lines += ["", "## Categories of data subjects", ""]
    lines += [f"- **{s['category']}**: {s['description']}." for s in record["data_subjects"]]
    lines += ["", "## Categories of personal data", ""]
    for table in record["personal_data"]:
        lines += [f"### {table['description']} (`{table['table']}`, about {table['about']})", "",
                  "| Column | What it holds |", "| --- | --- |"]
        lines += [f"| `{c['column']}` | {_cell(c['description'])} |" for c in table["columns"]]
        lines.append("")
    fields = record["prechat_fields"]
    lines += ["## Pre-chat fields in force", "",
              f"- Shown: {', '.join(fields['shown']) or 'none'}",
              f"- Required: {', '.join(fields['required']) or 'none'}", "",
              "## Recipients and processors", ""]
    lines += [f"- **{r['recipient']}** ({r['location']}): {r['role']}."
              for r in record["recipients"]]
    transfers = record["transfers_outside_eea"]
    lines += ["", "## Transfers outside the EEA", ""]
    lines += [f"- {t}" for t in transfers] if isinstance(transfers, list) else ["None configured."]
    retention = record["retention"]
    lines += ["", "## Retention", "",
              f"- Anonymous conversations: {retention['anonymous_days']} days after the last "
              "activity",
              "- Identified contacts' conversations: "
              + _days(retention["identified_days"], "until erased")
              + ("" if retention["identified_days"] is None else " after the last activity"),
              f"- Restricted subjects: kept frozen {retention['restricted_grace_days']} days, "
              "then purged",
              f"- Audit log: {retention['audit_log']}",
              f"- Subject requests: {retention['subject_requests']}",
              f"- Undelivered mail: {retention['undelivered_mail']}", "",
              "## Technical and organisational measures", ""]
    lines += [f"- {'[x]' if m['in_force'] else '[ ]'} **{m['measure']}**: {m['detail']}."
              for m in record["technical_measures"]]
    return "\n".join(lines) + "\n"
