"""The clinic's own data: its patients. The chat keeps its tables apart."""
from __future__ import annotations

import datetime as dt

from flask_login import LoginManager, UserMixin
from flask_sqlalchemy import SQLAlchemy
from werkzeug.security import check_password_hash, generate_password_hash

db = SQLAlchemy()
login_manager = LoginManager()
login_manager.login_view = "site.sign_in"
login_manager.login_message = "Please sign in to see your patient area."


class Patient(UserMixin, db.Model):  # type: ignore[name-defined]
    """A patient with an online account."""

    __tablename__ = "patients"

    id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String(254), unique=True, nullable=False)
    full_name = db.Column(db.String(120), nullable=False)
    password_hash = db.Column(db.String(255), nullable=False)
    next_visit = db.Column(db.DateTime, nullable=True)
    next_visit_treatment = db.Column(db.String(120), nullable=True)

    def set_password(self, password: str) -> None:
        """Store a hash of ``password``, never the password."""
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        """Whether ``password`` is this patient's."""
        return check_password_hash(self.password_hash, password)

    @property
    def first_name(self) -> str:
        return self.full_name.split()[0]


@login_manager.user_loader
def load_patient(user_id: str) -> Patient | None:
    """Flask-Login's loader for the clinic's own sign-in."""
    if not user_id.isdigit():
        return None
    return db.session.get(Patient, int(user_id))


def next_weekday_at(hour: int, days_ahead: int = 9) -> dt.datetime:
    """A plausible upcoming appointment time for the demo patient."""
    day = dt.datetime.now().replace(hour=hour, minute=30, second=0, microsecond=0)
    day += dt.timedelta(days=days_ahead)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day
