"""Password hashing with Argon2id, with the parameters of an argon2-cffi profile.

``GDPRCHAT_PASSWORD_PROFILE`` names the profile: production keeps the strong
default (RFC 9106's low-memory recommendation); a test suite may choose
``"CHEAPEST"`` so that signing in a hundred test agents takes no time.
"""
from __future__ import annotations

import functools

import argon2.profiles
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

from flask_gdprchat.core.config import PASSWORD_PROFILES


@functools.cache
def _hasher_for(profile: str) -> tuple[PasswordHasher, str]:
    hasher = PasswordHasher.from_parameters(getattr(argon2.profiles, profile))
    # Checked against when the e-mail is unknown, so a sign-in takes as long either way.
    return hasher, hasher.hash("not-a-real-password")


def _hasher() -> tuple[PasswordHasher, str]:
    return _hasher_for(current_app.config.get("GDPRCHAT_PASSWORD_PROFILE") or PASSWORD_PROFILES[0])


def hash_password(password: str) -> str:
    """An Argon2id hash of ``password``."""
    return _hasher()[0].hash(password)


def check_password(password_hash: str | None, password: str) -> bool:
    """True if ``password`` matches; spends the same time when there is no hash."""
    hasher, dummy = _hasher()
    try:
        return hasher.verify(password_hash or dummy, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters than the profile's."""
    return _hasher()[0].check_needs_rehash(password_hash)
