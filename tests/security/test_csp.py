"""Content-Security-Policy (django-csp): shopper pages allow only the app itself; the payment
page alone adds exactly the configured Stripe.js origin for scripts, frames and API calls;
nothing inline runs without the request's nonce; the API docs page carries a nonce on its
one inline script and style."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from tests.security.conftest import parse_csp

pytestmark = pytest.mark.django_db

APP_ONLY = ["'self'"]


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def test_shopper_page_allows_only_the_app(client):
    response = client.get(reverse("home"))
    assert response.status_code == 200
    policy = parse_csp(response["Content-Security-Policy"])
    assert policy["default-src"] == APP_ONLY
    assert policy["script-src"] == APP_ONLY  # no nonce used, no Stripe, nothing inline
    assert policy["style-src"] == APP_ONLY
    assert policy["connect-src"] == APP_ONLY
    assert policy["frame-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == APP_ONLY
    assert policy["form-action"] == APP_ONLY
    header = response["Content-Security-Policy"]
    assert "unsafe-inline" not in header
    assert "unsafe-eval" not in header


def test_payment_page_allows_exactly_the_stripe_js_origin(client, placed_order, stripe_local):
    order = placed_order()
    client.force_login(order.customer)
    response = client.get(reverse("orders:pay", args=[order.number]))
    assert response.status_code == 200
    stripe_origin = origin(stripe_local_js := response.context["stripe_js_url"])
    assert stripe_origin != "http://testserver"
    # The page loads Stripe.js from that origin.
    assert f'<script src="{stripe_local_js}"></script>' in response.content.decode()

    policy = parse_csp(response["Content-Security-Policy"])
    for directive in ("script-src", "connect-src"):
        assert policy[directive] == ["'self'", stripe_origin], directive
    assert policy["frame-src"] == [stripe_origin]
    assert policy["default-src"] == APP_ONLY
    assert policy["style-src"] == APP_ONLY


def test_real_stripe_js_brings_stripes_documented_origins(settings, client, placed_order):
    from storefront.middleware import csp_stripe_origins

    settings.STRIPE_JS_URL = "https://js.stripe.com/v3/"
    assert csp_stripe_origins() == [
        "https://js.stripe.com",
        "https://api.stripe.com",
        "https://hooks.stripe.com",
    ]
    settings.CSP_STRIPE_ORIGINS = ["https://js.stripe.com"]
    assert csp_stripe_origins() == ["https://js.stripe.com"]


def test_api_docs_inline_script_and_style_carry_the_nonce_in_the_header(client):
    response = client.get(reverse("api:docs"))
    assert response.status_code == 200
    body = response.content.decode()
    policy = parse_csp(response["Content-Security-Policy"])
    nonces = set(re.findall(r"<(?:script|style) nonce=\"([^\"]+)\">", body))
    assert len(nonces) == 1
    (nonce,) = nonces
    assert policy["script-src"] == ["'self'", f"'nonce-{nonce}'"]
    assert policy["style-src"] == ["'self'", f"'nonce-{nonce}'"]
    # Every inline script and style on the page has it.
    assert not re.search(r"<script>|<style>", body)
    # A new request gets a new nonce.
    again = client.get(reverse("api:docs"))
    assert f"'nonce-{nonce}'" not in again["Content-Security-Policy"]


def test_admin_pages_get_the_policy_and_work(admin_client):
    response = admin_client.get(reverse("admin:index"))
    assert response.status_code == 200
    policy = parse_csp(response["Content-Security-Policy"])
    assert policy["script-src"][0] == "'self'"
    assert "unsafe-inline" not in response["Content-Security-Policy"]


def test_no_template_has_an_inline_script_or_style_without_a_nonce():
    """Inline code the policy would block: <script> without src (other than JSON data) or
    <style> without a nonce, and style="" attributes, in the site's templates (emails are
    not pages and are skipped)."""
    from django.conf import settings

    offenders = []
    # The site's templates and every app's (admin pages included).
    roots = [settings.BASE_DIR / "templates", *sorted(settings.BASE_DIR.glob("*/templates"))]
    for root in roots:
        for path in root.rglob("*.html"):
            if "email" in path.parts:
                continue
            text = path.read_text()
            for match in re.finditer(
                r"<script\b[^>]*>|<style\b[^>]*>|\sstyle=\"|\son[a-z]+=\"", text
            ):
                tag = match.group(0)
                if "src=" in tag or "nonce=" in tag or "application/json" in tag:
                    continue
                offenders.append(f"{path.relative_to(settings.BASE_DIR)}: {tag.strip()}")
    assert offenders == []
