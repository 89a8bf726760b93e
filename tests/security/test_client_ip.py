"""The client's address behind load balancers (storefront/client_ip.py): with
TRUSTED_PROXY_COUNT = N it is the N-th entry from the right of X-Forwarded-For, never a
forgeable entry further left; django-axes and the shopper login limiter both use it."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.test import Client, RequestFactory
from django.urls import reverse

from storefront.accounts import ratelimit
from storefront.client_ip import client_ip

LB = "10.0.0.2"  # the load balancer, as every request behind it arrives from
PASSWORD = "Correct-Horse-Battery-9"


def request_from(remote: str = LB, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_without_proxies_the_header_is_ignored(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request_from("198.51.100.7", "203.0.113.9")) == "198.51.100.7"
    assert client_ip(None) == ""


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "1.2.3.4, 203.0.113.9", "203.0.113.9"),  # the client forged the left entry
        (1, " 203.0.113.9 ", "203.0.113.9"),
        (2, "6.6.6.6, 203.0.113.9, 10.0.0.5", "203.0.113.9"),
        (1, "2001:db8::1", "2001:db8::1"),
        (2, "203.0.113.9", LB),  # fewer entries than proxies: not through them
        (1, "", LB),
        (1, "not-an-ip", LB),
        (1, "203.0.113.9, unknown", LB),
    ],
)
def test_behind_proxies_the_client_is_counted_from_the_right(
    settings, proxies, forwarded, expected
):
    settings.TRUSTED_PROXY_COUNT = proxies
    assert client_ip(request_from(LB, forwarded)) == expected


def test_a_missing_header_behind_a_proxy_falls_back_to_the_remote_address(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request_from(LB)) == LB


def test_the_shopper_login_limiter_uses_the_same_address(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert ratelimit.client_ip(request_from(LB, "7.7.7.7, 203.0.113.9")) == "203.0.113.9"


@pytest.mark.django_db
def test_behind_a_load_balancer_one_clients_failures_do_not_lock_out_another(
    settings, django_user_model
):
    """Five bad admin logins from one client lock that client (username + its address)
    out; another client coming through the same load balancer still gets in."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.TRUSTED_PROXY_COUNT = 1
    django_user_model.objects.create_user(
        "ops", email="ops@example.com", password=PASSWORD, is_staff=True, is_superuser=True
    )
    login = reverse("admin:login")
    attacker = Client(REMOTE_ADDR=LB, HTTP_X_FORWARDED_FOR="203.0.113.66")
    for _ in range(5):
        response = attacker.post(login, {"username": "ops", "password": "wrong"})
    assert response.status_code == 429
    assert attacker.post(login, {"username": "ops", "password": PASSWORD}).status_code == 429
    assert AccessAttempt.objects.get(username="ops").ip_address == "203.0.113.66"

    colleague = Client(REMOTE_ADDR=LB, HTTP_X_FORWARDED_FOR="198.51.100.20")
    response = colleague.post(login, {"username": "ops", "password": PASSWORD})
    assert response.status_code == 302
    assert "_auth_user_id" in colleague.session
