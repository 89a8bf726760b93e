"""`manage.py partner_create`: a partner and a working key, printed once, stored hashed."""

from __future__ import annotations

import hashlib
import io
import re

import pytest
from django.core.management import CommandError, call_command

from storefront.models import ApiKey, Partner

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("partner_create", *args, stdout=out)
    return out.getvalue()


def test_creates_a_partner_with_every_scope_and_prints_its_key_once():
    output = run(
        "--name",
        "Acme Mall",
        "--credit-limit",
        "3000000",
        "--webhook-url",
        "https://acme.example/hooks",
    )

    partner = Partner.objects.get(name="Acme Mall")
    assert sorted(partner.scopes) == sorted(Partner.Scope.values)
    assert partner.credit_limit_krw == 3_000_000
    assert partner.webhook_secret in output
    raw = re.search(r"API key\s+(gsk_\S+)", output)[1]
    key = ApiKey.objects.get(partner=partner)
    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in {key.prefix, key.key_hash, key.name}


def test_the_printed_key_works_against_the_api(client):
    output = run("--name", "Acme Mall", "--scope", "catalog:read")
    raw = re.search(r"API key\s+(gsk_\S+)", output)[1]
    response = client.get("/api/v1/products/", HTTP_AUTHORIZATION=f"Api-Key {raw}")
    assert response.status_code == 200
    denied = client.get("/api/v1/orders/", HTTP_AUTHORIZATION=f"Api-Key {raw}")
    assert denied.status_code == 403  # only the scope asked for


def test_a_second_key_needs_new_key_and_an_existing_partner():
    run("--name", "Acme Mall")
    with pytest.raises(CommandError, match="--new-key"):
        run("--name", "Acme Mall")
    run("--name", "Acme Mall", "--new-key", "--key-name", "staging")
    assert ApiKey.objects.filter(partner__name="Acme Mall").count() == 2
    with pytest.raises(CommandError, match="No partner"):
        run("--name", "Nobody", "--new-key")
    assert Partner.objects.count() == 1
