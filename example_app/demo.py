"""First-run set-up of the example site: tables, a demo admin agent, a demo patient."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from flask_gdprchat.core.database import init_db
from flask_gdprchat.core.models import Agent
from flask_gdprchat.core.state import session
from flask_gdprchat.core.subjects import agent_email_is
from flask_gdprchat.team.agents import create_agent

from .models import Patient, db, next_weekday_at

ADMIN_EMAIL = "admin@example.com"
ADMIN_NAME = "Dr. Lena Hoffmann"
PATIENT_EMAIL = "patient@example.com"
PATIENT_NAME = "Maria Lopez"
#: DEMO ONLY: the patient's password is printed on the sign-in page of the demo.
PATIENT_PASSWORD = "demo-patient-1"


@dataclass
class DemoAccounts:
    admin_email: str
    admin_password: str | None
    patient_email: str
    patient_password: str


def admin_password_file(app: Flask) -> Path:
    return Path(app.instance_path) / "demo-admin-password.txt"


def _demo_admin_password(app: Flask) -> str:
    """A random password made on first run and kept in the instance folder."""
    path = admin_password_file(app)
    if not path.exists():
        path.write_text(secrets.token_urlsafe(12) + "\n")
        path.chmod(0o600)
    return path.read_text().strip()


def set_up(app: Flask) -> DemoAccounts:
    """Create or upgrade every table and the demo accounts. Safe to run again."""
    with app.app_context():
        init_db()
        db.create_all()

        password: str | None = _demo_admin_password(app)
        if session().scalar(select(Agent).where(agent_email_is(ADMIN_EMAIL))) is None:
            create_agent(ADMIN_EMAIL, ADMIN_NAME, password, admin=True, actor="demo-setup")
            session().commit()
        elif not admin_password_file(app).exists():
            password = None  # someone else made the account; its password is theirs

        if db.session.scalar(select(Patient).filter_by(email=PATIENT_EMAIL)) is None:
            patient = Patient(
                email=PATIENT_EMAIL,
                full_name=PATIENT_NAME,
                next_visit=next_weekday_at(10),
                next_visit_treatment="Check-up & clean",
            )
            patient.set_password(PATIENT_PASSWORD)
            db.session.add(patient)
            db.session.commit()

    return DemoAccounts(ADMIN_EMAIL, password, PATIENT_EMAIL, PATIENT_PASSWORD)


def welcome(app: Flask, accounts: DemoAccounts, base: str) -> str:
    """What the entry points print on start-up: where everything is, and how to sign in."""
    prefix = app.config["GDPRCHAT_URL_PREFIX"]
    password = accounts.admin_password or "(unchanged; set by whoever created it)"
    return f"""
  Brightsmile Dental (example site for flask-gdprchat)

  Site            {base}/
  Agent console   {base}{prefix}/agent/
  Dashboard       {base}{prefix}/admin/
  Privacy center  {base}{prefix}/privacy

  Demo admin      {accounts.admin_email}  /  {password}
  Demo patient    {accounts.patient_email}  /  {accounts.patient_password}
  Mail goes to the SMTP server at {app.config['MAIL_SERVER']}:{app.config['MAIL_PORT']}
  (e.g. `python -m aiosmtpd -n -l localhost:1025`); without one, sending fails politely.
"""
