"""Shopper accounts: sign up, log in by email (throttled), log out, password reset, profile."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.signals import user_login_failed
from django.core import mail
from django.urls import reverse

from storefront.accounts import ratelimit
from storefront.accounts.services import EmailTaken, account_create

pytestmark = pytest.mark.django_db

PASSWORD = "Han-River-Sunset-42"
LOGIN_URL = "/account/login/"
SIGNUP_URL = "/account/signup/"
PROFILE_URL = "/account/"


@pytest.fixture(autouse=True)
def _fast_passwords_and_english(settings, client):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.LOGIN_RATE_LIMIT_ATTEMPTS = 5
    settings.LOGIN_RATE_LIMIT_IP_ATTEMPTS = 20
    settings.LOGIN_RATE_LIMIT_WINDOW_SECONDS = 900
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture
def shopper():
    return account_create(email="Kim.Chulsoo@Example.com", password=PASSWORD, name="김철수")


@pytest.fixture
def failed_logins():
    """The emails of authentication attempts that failed (Django's own signal)."""
    seen: list[str] = []

    def record(sender, credentials, **kwargs):
        seen.append(credentials.get("username"))

    user_login_failed.connect(record)
    yield seen
    user_login_failed.disconnect(record)


def logged_in_user_id(client) -> str | None:
    return client.session.get(SESSION_KEY)


def login(client, email, password, **extra):
    return client.post(LOGIN_URL, {"email": email, "password": password, **extra})


# --- sign up -----------------------------------------------------------------------------


def test_signup_creates_the_account_and_logs_in(client):
    response = client.post(
        SIGNUP_URL,
        {
            "email": "Park@Example.COM",
            "name": " 박영희 ",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response.status_code == 302
    assert response["Location"] == PROFILE_URL
    user = get_user_model().objects.get()
    assert user.username == "park@example.com"
    assert user.email == "Park@example.com"  # the domain is lower-cased, the local part kept
    assert user.first_name == "박영희"
    assert user.check_password(PASSWORD)
    assert logged_in_user_id(client) == str(user.pk)


def test_signup_follows_a_safe_next(client):
    data = {"email": "a@example.com", "password1": PASSWORD, "password2": PASSWORD}
    response = client.post(f"{SIGNUP_URL}?next=/checkout/", data)
    assert response["Location"] == "/checkout/"


def test_signup_refuses_an_email_in_use_in_any_case(client, shopper):
    response = client.post(
        SIGNUP_URL,
        {"email": "KIM.CHULSOO@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 200
    assert "already exists" in response.context["form"].errors["email"][0]
    assert get_user_model().objects.count() == 1
    assert logged_in_user_id(client) is None


def test_the_service_refuses_a_taken_email_too(shopper):
    with pytest.raises(EmailTaken) as caught:
        account_create(email="kim.chulsoo@EXAMPLE.com", password=PASSWORD)
    assert caught.value.code == "email_taken"
    assert "email" in caught.value.fields
    assert get_user_model().objects.count() == 1


@pytest.mark.parametrize(
    ("password1", "password2", "field"),
    [
        ("short1", "short1", "password1"),  # Django's length validator
        ("12345678901", "12345678901", "password1"),  # entirely numeric
        ("password123", "password123", "password1"),  # common
        ("kimchulsoo", "kimchulsoo", "password1"),  # too like the email
        (PASSWORD, PASSWORD + "x", "password2"),
    ],
)
def test_signup_applies_djangos_password_validators(client, password1, password2, field):
    response = client.post(
        SIGNUP_URL,
        {"email": "kimchulsoo@example.com", "password1": password1, "password2": password2},
    )
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not get_user_model().objects.exists()


# --- log in and out ----------------------------------------------------------------------


def test_login_by_email_in_any_letter_case(client, shopper):
    response = login(client, "  KIM.chulsoo@example.COM ", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == PROFILE_URL
    assert logged_in_user_id(client) == str(shopper.pk)


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(client, shopper):
    response = login(client, shopper.email, "wrong")
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "The email or the password is not right. Check both and try again."
    ]
    unknown = login(client, "nobody@example.com", "wrong")
    assert unknown.context["form"].non_field_errors() == response.context["form"].non_field_errors()
    assert logged_in_user_id(client) is None


@pytest.mark.parametrize("target", ["/cart/", "/account/addresses/?x=1"])
def test_login_follows_a_next_on_this_site(client, shopper, target):
    response = login(client, shopper.email, PASSWORD, next=target)
    assert response["Location"] == target


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/", "http://testserver.evil/", "javascript:alert(1)"],
)
def test_login_ignores_a_next_elsewhere(client, shopper, target):
    response = login(client, shopper.email, PASSWORD, next=target)
    assert response.status_code == 302
    assert response["Location"] == PROFILE_URL


def test_the_login_page_keeps_next(client):
    response = client.get(LOGIN_URL, {"next": "/cart/"})
    assert 'name="next" value="/cart/"' in response.content.decode()


def test_logout_is_post_only(client, shopper):
    client.force_login(shopper)
    assert client.get(reverse("accounts:logout")).status_code == 405
    assert logged_in_user_id(client) == str(shopper.pk)
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert logged_in_user_id(client) is None


# --- rate limit --------------------------------------------------------------------------


def test_after_n_failures_even_the_right_password_is_refused(client, shopper, failed_logins):
    for _ in range(settings.LOGIN_RATE_LIMIT_ATTEMPTS):
        login(client, shopper.email, "wrong")
    assert len(failed_logins) == settings.LOGIN_RATE_LIMIT_ATTEMPTS

    response = login(client, shopper.email, PASSWORD)
    assert response.status_code == 200
    (error,) = response.context["form"].non_field_errors()
    assert error.startswith("Too many attempts. Try again in 15 minutes")
    assert logged_in_user_id(client) is None
    # No authentication was attempted while locked.
    assert len(failed_logins) == settings.LOGIN_RATE_LIMIT_ATTEMPTS
    shopper.refresh_from_db()
    assert shopper.last_login is None


def test_the_lock_is_per_email(client, shopper):
    for _ in range(settings.LOGIN_RATE_LIMIT_ATTEMPTS):
        login(client, "someone.else@example.com", "wrong")
    response = login(client, shopper.email, PASSWORD)
    assert response.status_code == 302


def test_the_email_lock_ignores_letter_case(client, shopper):
    for _ in range(settings.LOGIN_RATE_LIMIT_ATTEMPTS):
        login(client, shopper.email.upper(), "wrong")
    assert login(client, shopper.email.lower(), PASSWORD).status_code == 200
    assert logged_in_user_id(client) is None


def test_too_many_failures_from_one_ip_lock_every_email(client, shopper, settings):
    settings.LOGIN_RATE_LIMIT_IP_ATTEMPTS = 3
    for n in range(3):
        login(client, f"guess{n}@example.com", "wrong")
    response = login(client, shopper.email, PASSWORD)
    assert response.status_code == 200
    assert "Too many attempts" in response.context["form"].non_field_errors()[0]
    other_ip = client.post(
        LOGIN_URL, {"email": shopper.email, "password": PASSWORD}, REMOTE_ADDR="10.9.8.7"
    )
    assert other_ip.status_code == 302


def test_a_successful_login_clears_the_email_counter(client, shopper):
    for _ in range(settings.LOGIN_RATE_LIMIT_ATTEMPTS - 1):
        login(client, shopper.email, "wrong")
    assert login(client, shopper.email, PASSWORD).status_code == 302
    client.post(reverse("accounts:logout"))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    # A fresh count: one more failure does not lock the account.
    login(client, shopper.email, "wrong")
    assert login(client, shopper.email, PASSWORD).status_code == 302


def test_the_lock_ends_with_its_window(shopper, monkeypatch):
    email, ip = shopper.email, "127.0.0.1"
    for _ in range(settings.LOGIN_RATE_LIMIT_ATTEMPTS):
        ratelimit.login_failed(email=email, ip=ip)
    assert ratelimit.login_locked_seconds(email=email, ip=ip) > 0
    real_time = ratelimit.time.time
    monkeypatch.setattr(
        ratelimit.time,
        "time",
        lambda: real_time() + settings.LOGIN_RATE_LIMIT_WINDOW_SECONDS + 1,
    )
    assert ratelimit.login_locked_seconds(email=email, ip=ip) == 0


def test_a_password_reset_lifts_the_lock(client, shopper):
    for _ in range(settings.LOGIN_RATE_LIMIT_ATTEMPTS):
        login(client, shopper.email, "wrong")
    new_password = "Jeju-Island-Breeze-7"
    reset_password(client, shopper.email, new_password)
    assert login(client, shopper.email, new_password).status_code == 302


# --- password reset ----------------------------------------------------------------------


def reset_password(client, email: str, new_password: str):
    response = client.post(reverse("accounts:password-reset"), {"email": email})
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password-reset-done")
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/account/password/reset/\S+/)", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    response = client.get(link.group(1))  # Django swaps the token for a session marker
    assert response.status_code == 302
    set_password_url = response["Location"]
    response = client.post(
        set_password_url, {"new_password1": new_password, "new_password2": new_password}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password-reset-complete")
    return response


def test_password_reset_by_email(client, shopper):
    new_password = "Jeju-Island-Breeze-7"
    reset_password(client, "kim.chulsoo@EXAMPLE.com", new_password)
    message = mail.outbox[0]
    assert message.to == [shopper.email]
    assert "Global Store" in message.subject
    shopper.refresh_from_db()
    assert shopper.check_password(new_password)
    assert not shopper.check_password(PASSWORD)


def test_password_reset_for_an_unknown_email_sends_nothing_and_says_the_same(client):
    response = client.post(reverse("accounts:password-reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password-reset-done")
    assert mail.outbox == []


def test_a_tampered_reset_link_is_refused(client, shopper):
    client.post(reverse("accounts:password-reset"), {"email": shopper.email})
    path = re.search(r"http://testserver(/account/password/reset/\S+/)", mail.outbox[0].body)
    bad = path.group(1).rstrip("/")[:-2] + "xx/"
    response = client.get(bad)
    assert response.status_code == 200
    assert response.context["validlink"] is False


# --- profile -----------------------------------------------------------------------------


def test_the_account_urls(client):
    assert reverse("accounts:login") == LOGIN_URL
    assert reverse("accounts:signup") == SIGNUP_URL
    assert reverse("accounts:profile") == PROFILE_URL
    assert settings.LOGIN_URL == "accounts:login"


def test_profile_requires_login(client):
    response = client.get(PROFILE_URL)
    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN_URL}?next={PROFILE_URL}"


def test_profile_shows_the_shopper_and_links(client, shopper):
    client.force_login(shopper)
    response = client.get(PROFILE_URL)
    body = response.content.decode()
    assert response.status_code == 200
    assert "김철수" in body
    assert shopper.email in body
    assert reverse("orders:addresses") in body
    assert reverse("accounts:password-change") in body


def test_header_links_follow_the_login_state(client, shopper):
    anonymous = client.get(LOGIN_URL).content.decode()
    assert reverse("accounts:signup") in anonymous
    assert 'class="cart-link" href="/cart/"' in anonymous
    client.force_login(shopper)
    body = client.get(PROFILE_URL).content.decode()
    assert f'action="{reverse("accounts:logout")}"' in body
    assert reverse("accounts:signup") not in body


def test_password_change(client, shopper):
    client.force_login(shopper)
    new_password = "Busan-Harbour-Lights-9"
    response = client.post(
        reverse("accounts:password-change"),
        {"old_password": PASSWORD, "new_password1": new_password, "new_password2": new_password},
    )
    assert response.status_code == 302
    shopper.refresh_from_db()
    assert shopper.check_password(new_password)
    assert logged_in_user_id(client) == str(shopper.pk)  # still logged in
