"""Shopper accounts. Django's ``auth.User`` with the email as the login: ``username`` holds
the email in lower case, so the unique username index makes emails unique regardless of
case, even when two sign-ups race."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext

from storefront.errors import ApplicationError

NAME_MAX = 150  # auth.User.first_name


class EmailTaken(ApplicationError):
    """An account with this email (in any letter case) already exists."""

    code = "email_taken"


def email_normalize(raw: str) -> str:
    """The email as stored: trimmed, the domain in lower case (the local part as typed)."""
    return BaseUserManager.normalize_email((raw or "").strip())


def username_for_email(email: str) -> str:
    """The username of the account that logs in with ``email`` (any letter case). For an
    unknown email, the username such an account would have: authenticating with it fails
    after the same password-hashing work, so response times do not reveal accounts."""
    lowered = email.strip().lower()
    usernames = list(
        get_user_model()
        .objects.filter(Q(username__iexact=lowered) | Q(email__iexact=lowered))
        .values_list("username", flat=True)[:2]
    )
    if len(usernames) == 1:
        return usernames[0]
    return lowered  # none, or an ambiguous pair (only possible for accounts made in admin)


def account_create(*, email: str, password: str, name: str = "") -> AbstractBaseUser:
    """Create an active shopper account that logs in with ``email`` and ``password`` (the
    caller has already run Django's password validators). Raises ``EmailTaken`` (field
    ``email``) when the email is in use, in any letter case; creates nothing then."""
    email = email_normalize(email)
    username = email.lower()
    user_model = get_user_model()
    message = gettext("An account with this email already exists. Log in or reset your password.")
    taken = EmailTaken(message, fields={"email": message})
    if user_model.objects.filter(Q(username__iexact=username) | Q(email__iexact=email)).exists():
        raise taken
    try:
        with transaction.atomic():
            return user_model.objects.create_user(
                username=username,
                email=email,
                password=password,
                first_name=" ".join((name or "").split())[:NAME_MAX],
            )
    except IntegrityError as exc:  # a concurrent sign-up with the same email won
        raise taken from exc
