"""The admin login: django-axes locks a username+IP pair out after AXES_FAILURE_LIMIT failures
(even with the right password afterwards, and the same way for usernames that do not exist),
the shopper login is not counted by axes (it has its own limiter); django-otp asks staff who
have a confirmed TOTP device for a valid token, and only them."""

from __future__ import annotations

import re

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

pytestmark = pytest.mark.django_db

LOGIN = reverse("admin:login")
INDEX = reverse("admin:index")
PASSWORD = "Correct-Horse-Battery-9"


@pytest.fixture(autouse=True)
def _fast_passwords_and_english(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(
        "ops", email="ops@example.com", password=PASSWORD, is_staff=True, is_superuser=True
    )


def login(client: Client, username: str, password: str, **extra):
    return client.post(LOGIN, {"username": username, "password": password, **extra})


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def without_tokens(html: str) -> str:
    """The page minus what differs per request anyway (CSRF token, CSP nonce)."""
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)
    return re.sub(r'nonce="[^"]+"', "", html)


# --- lockout (django-axes) -------------------------------------------------------------------


def test_five_bad_admin_logins_lock_the_pair_out_even_with_the_right_password(
    client, staff, settings
):
    assert settings.AXES_FAILURE_LIMIT == 5
    for _ in range(5):
        response = login(client, "ops", "wrong")
        assert not logged_in(client)
    assert response.status_code == 429

    response = login(client, "ops", PASSWORD)
    assert response.status_code == 429
    assert not logged_in(client)
    assert client.get(INDEX).status_code == 302  # to the login page

    # Another address is not locked out by this one's failures (username+IP pairs).
    other = Client(REMOTE_ADDR="10.0.0.9")
    assert login(other, "ops", PASSWORD).status_code == 302
    assert logged_in(other)


def test_four_failures_then_the_right_password_gets_in_and_resets_the_count(client, staff):
    for _ in range(4):
        login(client, "ops", "wrong")
    assert login(client, "ops", PASSWORD).status_code == 302
    assert logged_in(client)
    assert not AccessAttempt.objects.filter(username="ops", failures_since_start__gt=0).exists()


def test_lockout_does_not_tell_which_usernames_exist(staff):
    real, ghost = Client(), Client()
    real_pages = [login(real, "ops", "wrong") for _ in range(6)]
    ghost_pages = [login(ghost, "nobody-here", "wrong") for _ in range(6)]

    assert [p.status_code for p in real_pages] == [p.status_code for p in ghost_pages]
    for mine, theirs in zip(real_pages, ghost_pages, strict=True):
        assert without_tokens(mine.content.decode()).replace("ops", "nobody-here") == (
            without_tokens(theirs.content.decode())
        )
    assert real_pages[0].status_code == 200  # an ordinary "not right" form at first
    assert real_pages[-1].status_code == 429


def test_the_password_is_never_stored_by_axes(client, staff):
    login(client, "ops", "wrong-Secret-123")
    attempt = AccessAttempt.objects.get(username="ops")
    stored = f"{attempt.get_data} {attempt.post_data}"
    assert "wrong-Secret-123" not in stored


def test_shopper_logins_are_left_to_the_shopper_limiter(client, django_user_model):
    django_user_model.objects.create_user("k@example.com", email="k@example.com", password="x")
    for _ in range(3):
        client.post(reverse("accounts:login"), {"email": "k@example.com", "password": "bad"})
    assert not AccessAttempt.objects.exists()


# --- TOTP (django-otp) -----------------------------------------------------------------------


@pytest.fixture
def device(staff):
    return TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)


def token(device: TOTPDevice) -> str:
    return str(totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)).zfill(
        device.digits
    )


def test_staff_with_a_device_cannot_get_in_without_a_token(client, device):
    response = login(client, "ops", PASSWORD)
    assert response.status_code == 200
    assert response.context["form"].errors.as_data()["__all__"][0].code == "token_required"
    assert not logged_in(client)
    assert client.get(INDEX).status_code == 302


def test_staff_with_a_device_cannot_get_in_with_a_wrong_token(client, device):
    wrong = str((int(token(device)) + 1) % 10**6).zfill(6)
    response = login(client, "ops", PASSWORD, otp_token=wrong)
    assert response.status_code == 200
    assert not logged_in(client)
    assert client.get(INDEX).status_code == 302


def test_staff_with_a_device_get_in_with_a_valid_token(client, device):
    response = login(client, "ops", PASSWORD, otp_token=token(device))
    assert response.status_code == 302
    assert client.get(INDEX).status_code == 200


def test_staff_without_a_device_log_in_with_the_password_as_before(client, staff):
    assert login(client, "ops", PASSWORD).status_code == 302
    assert client.get(INDEX).status_code == 200


def test_an_unconfirmed_device_asks_for_nothing_yet(client, staff):
    TOTPDevice.objects.create(user=staff, name="phone", confirmed=False)
    assert login(client, "ops", PASSWORD).status_code == 302
    assert client.get(INDEX).status_code == 200


def test_a_session_that_skipped_the_token_is_logged_out_of_the_admin(client, device):
    """E.g. the shopper login, or a session from before the device was added."""
    client.force_login(device.user)
    response = client.get(reverse("admin:orders_order_changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
    assert not logged_in(client)


def test_a_device_confirmed_later_applies_from_the_next_login(client, staff):
    client.force_login(staff)
    assert client.get(INDEX).status_code == 200
    TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    client.logout()
    client.force_login(staff)  # any login but the admin's token form
    assert client.get(INDEX).status_code == 302
    assert not logged_in(client)
    assert login(client, "ops", PASSWORD).status_code == 200  # the token is asked for
    assert not logged_in(client)
