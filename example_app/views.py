"""The clinic's pages and its patient sign-in."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField
from wtforms.validators import DataRequired

from .content import CLINIC, OPENING_HOURS, PRICE_LIST, TREATMENTS
from .models import Patient, db

bp = Blueprint("site", __name__)


class SignInForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])
    remember = BooleanField("Keep me signed in on this device")


class SignOutForm(FlaskForm):
    """Only the CSRF token: signing out changes state, so it is a POST."""


@bp.app_context_processor
def clinic_facts() -> dict[str, Any]:
    # Plain facts only: a form here would make a CSRF token, and so a session
    # cookie, on every page before the visitor agreed to anything, and would
    # fail outside a request (mail rendered by the command line).
    return {"clinic": CLINIC, "opening_hours": OPENING_HOURS}


@bp.route("/")
def home() -> str:
    return render_template("home.html", treatments=TREATMENTS[:3])


@bp.route("/treatments")
def treatments() -> str:
    return render_template("treatments.html", treatments=TREATMENTS)


@bp.route("/prices")
def prices() -> str:
    return render_template("prices.html", prices=PRICE_LIST)


@bp.route("/contact")
def contact() -> str:
    return render_template("contact.html")


@bp.route("/patients/sign-in", methods=["GET", "POST"])
def sign_in() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("site.patient_area"))
    form = SignInForm()
    status = 200
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        patient = db.session.execute(
            db.select(Patient).filter_by(email=email)
        ).scalar_one_or_none()
        if patient is not None and patient.check_password(form.password.data):
            login_user(patient, remember=form.remember.data)
            return redirect(_local_next() or url_for("site.patient_area"))
        flash("That e-mail and password do not match a patient account.", "error")
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("sign_in.html", form=form), status


@bp.route("/patients/")
@login_required
def patient_area() -> str:
    return render_template("patient_area.html", patient=current_user,
                           sign_out_form=SignOutForm())


@bp.route("/patients/sign-out", methods=["POST"])
def sign_out() -> Any:
    if SignOutForm().validate_on_submit():
        logout_user()
        flash("You are signed out.", "info")
    return redirect(url_for("site.home"))


def _local_next() -> str | None:
    target = request.args.get("next", "")
    # Only paths on this site, never an absolute URL: no open redirect.
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None
