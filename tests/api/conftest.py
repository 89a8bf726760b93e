"""Fixtures for the partner API tests (tests/api/).

- ``partner``: an active partner with every scope and a ₩50,000,000 credit limit.
- ``other_partner``: another such partner (for "another partner's id → 404" tests).
- ``api_client(partner, scopes=None)``: a DRF ``APIClient`` sending a real, freshly made
  key of ``partner`` (``Authorization: Api-Key …``). ``scopes`` replaces the partner's
  scopes first (scopes belong to the partner, not the key). ``client.api_key`` is the
  ``ApiKey`` row and ``client.raw_key`` the key itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest
from rest_framework.test import APIClient

from storefront.models import Partner
from storefront.partners import api_key_create, partner_create

ALL_SCOPES = list(Partner.Scope.values)


@pytest.fixture
def partner(db) -> Partner:
    return partner_create(name="Carrier Shop", scopes=ALL_SCOPES, credit_limit_krw=50_000_000)


@pytest.fixture
def other_partner(db) -> Partner:
    return partner_create(name="Affiliate Mall", scopes=ALL_SCOPES, credit_limit_krw=50_000_000)


@pytest.fixture
def api_client(db) -> Callable[..., APIClient]:
    def make(partner: Partner, scopes: Iterable[str] | None = None) -> APIClient:
        if scopes is not None:
            partner.scopes = list(scopes)
            partner.save(update_fields=["scopes"])
        created = api_key_create(partner_id=partner.pk, name="tests")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {created.raw_key}")
        client.api_key = created.api_key
        client.raw_key = created.raw_key
        return client

    return make
