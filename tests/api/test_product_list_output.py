"""The partner API's product JSON, built directly by ``ProductSerializer.to_representation``
(catalog/api/serializers.py), is exactly what DRF's generic serializer walk over the declared
fields gives: the same keys in the same order and the same values, for a page that mixes
products shipping from Korea and from the US, without category, without a web image.
Values themselves are checked in tests/api/test_catalog_api.py.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request

from catalog import selectors
from catalog.api.serializers import ProductSerializer
from catalog.models import ExchangeRate
from tests.factories import CategoryFactory, ExchangeRateFactory, ProductFactory, StockFactory

pytestmark = pytest.mark.django_db

LIST_URL = reverse("api:v1:product-list")


@pytest.fixture(autouse=True)
def selling_rate(settings):
    settings.PRICE_MARGIN = Decimal("0.10")
    return ExchangeRateFactory(kind=ExchangeRate.Kind.SELLING, rate=Decimal("1400"))


@pytest.fixture
def partner_client(partner, api_client):
    return api_client(partner, scopes=["catalog:read"])


@pytest.fixture
def mixed_page():
    """Products in id order: domestic, cross-border, no category and a script "image",
    domestic again (so the page switches between the two promises), cross-border."""
    toys = CategoryFactory(name="Toys & Games", slug="toys")
    products = [
        ProductFactory(category=toys, source_price_usd=Decimal("19.99"), weight_kg=Decimal("0.5")),
        ProductFactory(category=toys, source_price_usd=Decimal("20.00"), brand=""),
        ProductFactory(category=None, image_urls=["javascript:alert(1)"], title="Öl & “Tee”"),
        ProductFactory(category=toys, image_urls=[], source_price_usd=Decimal("1234.56")),
        ProductFactory(category=toys, weight_kg=Decimal("12.345")),
    ]
    for product in (products[0], products[3]):
        StockFactory(product=product, on_hand=2)
    return products


def generic_json(response) -> list:
    """The page's products as DRF's generic ``Serializer.to_representation`` renders them."""
    fx_rate = selectors.fx_rate_current().rate
    serializer = ProductSerializer(
        context={
            "fx_rate": fx_rate,
            "now": timezone.now(),
            "request": Request(response.wsgi_request),
        }
    )
    products = selectors.product_list_for_partner(fx_rate=fx_rate).order_by("list_position")
    items = [serializers.ModelSerializer.to_representation(serializer, p) for p in products]
    return json.loads(JSONRenderer().render(items))


def test_list_page_is_byte_for_byte_the_generic_serializer_output(partner_client, mixed_page):
    response = partner_client.get(LIST_URL)

    assert response.status_code == 200
    results = response.json()["results"]
    assert [item["asin"] for item in results] == [p.asin for p in mixed_page]
    assert [item["availability"]["in_stock_domestic"] for item in results] == [
        True,
        False,
        False,
        True,
        False,
    ]
    assert results == generic_json(response)
    assert [list(item) for item in results] == [ProductSerializer.Meta.fields] * len(results)


def test_detail_is_the_generic_serializer_output(partner_client, mixed_page):
    for product in mixed_page:
        response = partner_client.get(reverse("api:v1:product-detail", args=[product.asin]))

        assert response.status_code == 200
        [expected] = [item for item in generic_json(response) if item["asin"] == product.asin]
        assert response.json() == expected


def test_products_of_a_page_do_not_share_their_availability_objects(mixed_page):
    products = list(
        selectors.product_list_for_partner(fx_rate=Decimal("1400")).order_by("list_position")
    )
    context = {"fx_rate": Decimal("1400"), "now": timezone.now()}

    data = ProductSerializer(products, many=True, context=context).data
    data[0]["availability"]["delivery_promise"]["kind"] = "changed"
    data[1]["availability"]["in_stock_domestic"] = None

    assert data[3]["availability"]["delivery_promise"]["kind"] == "domestic"
    assert data[4]["availability"]["in_stock_domestic"] is False
