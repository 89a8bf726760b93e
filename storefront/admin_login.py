"""The admin login: lockout by django-axes, counted for the admin only, and optional TOTP
(django-otp; docs/security.md says how to enroll).

Lockout: ``AdminOnlyAxesHandler`` records failures and successes of the admin login only.
The shopper login (storefront/accounts) has its own limiter (LOGIN_RATE_LIMIT_*); axes
would otherwise also record its failures (``AXES_ONLY_ADMIN_SITE`` only stops it enforcing
them there) and count them against the same username at the admin login.

TOTP:
Staff with a confirmed device must enter a current token with their password; staff without
one log in with their password alone, as before. Installed on ``admin.site`` in
storefront/urls.py; ``StaffOtpRequiredMiddleware`` keeps sessions that skipped this form
out of the admin."""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django_otp import devices_for_user, user_has_device
from django_otp.admin import OTPAdminAuthenticationForm
from django_otp.models import Device

LOGIN_TEMPLATE = "otp/admin111/login.html"
# Set in the session at any login of staff who have a confirmed device: their admin pages
# then need a verified token (storefront.middleware.StaffOtpRequiredMiddleware), at no
# query per page.
OTP_REQUIRED_SESSION_KEY = "storefront_otp_required"


class AdminAxesBackend(AxesStandaloneBackend):
    """django-axes' lockout backend, first in ``AUTHENTICATION_BACKENDS``. Django loads the
    backends before any login (``authenticate``, ``login``, the test client's
    ``force_login``), so the login hook below is connected before the first login."""


@receiver(user_logged_in)
def _remember_otp_required(sender, request, user, **kwargs) -> None:
    """At a staff user's login (any login view), remember whether they have a confirmed
    device. The admin login's form also verifies the token (django-otp stores that); the
    shopper login does not, so such a session cannot enter the admin."""
    if request is None or not getattr(user, "is_staff", False):
        return
    if user_has_device(user, confirmed=True):
        request.session[OTP_REQUIRED_SESSION_KEY] = True


class AdminOnlyAxesHandler(AxesDatabaseHandler):
    """django-axes' database handler, deaf to logins outside the admin site."""

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs) -> None:
        if request is None or not self.is_admin_request(request):
            return
        super().user_login_failed(sender, credentials, request, **kwargs)

    def user_logged_in(self, sender, request, user, **kwargs) -> None:
        if request is None or not self.is_admin_request(request):
            return
        super().user_logged_in(sender, request, user, **kwargs)


class OptionalOtpAdminAuthenticationForm(OTPAdminAuthenticationForm):
    """The admin login form, plus a token for staff who have a confirmed device.

    Password checks, lockout (django-axes) and "is staff" run first, as in Django's admin
    form. Then only a user with a confirmed device is asked for a token; with exactly one
    device it is used without making the user pick it."""

    def clean(self):
        self.cleaned_data = super(OTPAdminAuthenticationForm, self).clean()
        user = self.get_user()
        if user is not None and user_has_device(user, confirmed=True):
            self.clean_otp(user)
        return self.cleaned_data

    def _chosen_device(self, user) -> Device | None:
        device = super()._chosen_device(user)
        if device is None:
            devices = list(devices_for_user(user, confirmed=True, for_verify=True))
            if len(devices) == 1:
                device = devices[0]
        return device
