"""Sign-up and log-in forms (the email is the login)."""

from __future__ import annotations

from django import forms
from django.contrib.auth import authenticate, get_user_model, password_validation
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from storefront.errors import ApplicationError

from . import ratelimit, services

EMAIL_MAX = 150  # stored as the username too (auth.User.username is 150 characters)


def _locked_message(seconds: int) -> str:
    minutes = ratelimit.minutes_left(seconds)
    return ngettext(
        "Too many attempts. Try again in %(minutes)d minute, or reset your password.",
        "Too many attempts. Try again in %(minutes)d minutes, or reset your password.",
        minutes,
    ) % {"minutes": minutes}


class SignupForm(forms.Form):
    """Email, optional name, and the password twice (checked by Django's validators)."""

    email = forms.EmailField(
        label=_("Email"),
        max_length=EMAIL_MAX,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    name = forms.CharField(
        label=_("Name (optional)"),
        max_length=services.NAME_MAX,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_email(self) -> str:
        return services.email_normalize(self.cleaned_data["email"])

    def clean(self) -> dict:
        cleaned = super().clean()
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", _("The two passwords are different."))
        elif password1:
            # The similarity validator compares the password with the email and name.
            candidate = get_user_model()(
                username=cleaned.get("email", ""),
                email=cleaned.get("email", ""),
                first_name=cleaned.get("name", ""),
            )
            try:
                password_validation.validate_password(password1, user=candidate)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return cleaned

    def add_application_error(self, exc: ApplicationError) -> None:
        """Show a service's refusal on its fields (or on the form)."""
        if not exc.fields:
            self.add_error(None, exc.message)
        for field, message in exc.fields.items():
            self.add_error(field if field in self.fields else None, message)


class EmailLoginForm(forms.Form):
    """Log in with email (any letter case) and password, throttled by ``ratelimit``.

    Has the interface Django's ``LoginView`` expects of an authentication form
    (``request`` first, ``get_user()``)."""

    email = forms.EmailField(
        label=_("Email"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, request: HttpRequest | None = None, *args, **kwargs) -> None:
        self.request = request
        self.user_cache: AbstractBaseUser | None = None
        super().__init__(*args, **kwargs)

    def clean(self) -> dict:
        cleaned = super().clean()
        email, password = cleaned.get("email"), cleaned.get("password")
        if not email or not password:
            return cleaned
        ip = ratelimit.client_ip(self.request)
        locked = ratelimit.login_locked_seconds(email=email, ip=ip)
        if locked:
            # No authentication at all while locked: not even the right password gets in.
            raise forms.ValidationError(_locked_message(locked), code="rate_limited")
        user = authenticate(
            self.request, username=services.username_for_email(email), password=password
        )
        if user is None:
            locked = ratelimit.login_failed(email=email, ip=ip)
            if locked:
                raise forms.ValidationError(_locked_message(locked), code="rate_limited")
            raise forms.ValidationError(
                _("The email or the password is not right. Check both and try again."),
                code="invalid_login",
            )
        ratelimit.login_succeeded(email=email)
        self.user_cache = user
        return cleaned

    def get_user(self) -> AbstractBaseUser | None:
        return self.user_cache
