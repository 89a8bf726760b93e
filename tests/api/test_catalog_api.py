"""The catalog's partner API: ``GET /api/v1/products/`` and ``/api/v1/products/<asin>/``.

Prices are asserted as the shelf shows them. With the selling rate 1400 and a 10% margin,
USD 19.99 → ceil(19.99 × 1540 / 10) × 10 = ₩30,790 and USD 20.00 → ₩30,800 (as in
tests/catalog/test_views.py). Runs on SQLite and PostgreSQL (search matches words on
SQLite and uses full text on PostgreSQL; the words here match on both).
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from catalog import pricing
from catalog.models import ExchangeRate, Product
from catalog.templatetags.catalog_tags import won
from fulfillment import selectors as stock_selectors
from tests.factories import (
    CategoryFactory,
    CustomsClassFactory,
    ExchangeRateFactory,
    ProductFactory,
    StockFactory,
)

pytestmark = pytest.mark.django_db

LIST_URL = reverse("api:v1:product-list")


def detail_url(asin: str) -> str:
    return reverse("api:v1:product-detail", kwargs={"asin": asin})


@pytest.fixture(autouse=True)
def selling_rate(settings):
    settings.PRICE_MARGIN = Decimal("0.10")
    return ExchangeRateFactory(kind=ExchangeRate.Kind.SELLING, rate=Decimal("1400"))


@pytest.fixture
def partner_client(partner, api_client):
    """A client whose partner has only ``catalog:read``."""
    return api_client(partner, scopes=["catalog:read"])


@pytest.fixture
def tree():
    """Toys & Games > Puzzles > Jigsaw, and an unrelated Books root."""
    toys = CategoryFactory(name="Toys & Games", slug="toys")
    puzzles = CategoryFactory(name="Puzzles", slug="puzzles", parent=toys)
    jigsaw = CategoryFactory(name="Jigsaw Puzzles", slug="jigsaw", parent=puzzles)
    books = CategoryFactory(name="Books", slug="books")
    return {"toys": toys, "puzzles": puzzles, "jigsaw": jigsaw, "books": books}


def listed(partner_client, **params) -> list[str]:
    """The ASINs of the first page of the list with ``params`` (checked to be 200)."""
    response = partner_client.get(LIST_URL, params)
    assert response.status_code == 200, response.json()
    return [item["asin"] for item in response.json()["results"]]


def walk(partner_client, **params) -> list[str]:
    """Every ASIN the list yields following ``next`` from the first page."""
    seen: list[str] = []
    response = partner_client.get(LIST_URL, params)
    while True:
        assert response.status_code == 200, response.json()
        body = response.json()
        seen += [item["asin"] for item in body["results"]]
        if body["next"] is None:
            return seen
        response = partner_client.get(body["next"])


# --- Authentication and scope ------------------------------------------------------------------


@pytest.mark.parametrize("url", [LIST_URL, detail_url("B000000001")])
def test_without_a_key_both_endpoints_answer_401_and_no_products(url):
    from rest_framework.test import APIClient

    ProductFactory(asin="B000000001")

    response = APIClient().get(url)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Api-Key"
    assert response.json()["code"] == "unauthenticated"
    assert "results" not in response.json()
    assert "asin" not in response.json()


@pytest.mark.parametrize("url", [LIST_URL, detail_url("B000000001")])
def test_a_partner_without_catalog_read_gets_403_scope_missing(partner, api_client, url):
    ProductFactory(asin="B000000001")
    partner_client = api_client(partner, scopes=["orders:read", "quotes:write"])

    response = partner_client.get(url)

    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "scope_missing"
    assert "catalog:read" in body["message"]
    assert body["fields"] == {}
    assert "results" not in body
    assert "asin" not in body


# --- Fields ------------------------------------------------------------------------------------


def test_detail_shows_every_field_of_the_contract(partner_client, tree):
    customs = CustomsClassFactory(code="toys", name="Toys")
    product = ProductFactory(
        asin="B0TESTPROD",
        title="Wooden Jigsaw Puzzle",
        brand="Ravensburger",
        category=tree["jigsaw"],
        customs_class=customs,
        source_price_usd=Decimal("19.99"),
        weight_kg=Decimal("0.750"),
        image_urls=["https://img.example.com/a.jpg", "https://img.example.com/b.jpg"],
    )

    response = partner_client.get(detail_url("B0TESTPROD"))

    assert response.status_code == 200
    body = response.json()
    product.refresh_from_db()
    assert body["asin"] == "B0TESTPROD"
    assert body["title"] == "Wooden Jigsaw Puzzle"
    assert body["brand"] == "Ravensburger"
    assert body["category"] == {"slug": "jigsaw", "name": "Jigsaw Puzzles"}
    assert body["price_krw"] == 30790
    assert body["source_price_usd"] == "19.99"
    assert body["weight_kg"] == "0.750"
    assert body["customs_class"] == "toys"
    assert body["image_url"] == "https://img.example.com/a.jpg"
    assert datetime.datetime.fromisoformat(body["updated_at"]) == product.updated_at
    assert body["url"] == "http://testserver" + product.get_absolute_url()
    assert body["availability"]["in_stock_domestic"] is False
    promise = body["availability"]["delivery_promise"]
    assert (promise["kind"], promise["min_days"], promise["max_days"]) == ("cross_border", 6, 10)


def test_a_product_without_category_or_web_image_shows_nulls(partner_client):
    ProductFactory(asin="B0NOCATEGO", category=None, image_urls=["javascript:alert(1)"])

    body = partner_client.get(detail_url("B0NOCATEGO")).json()

    assert body["category"] is None
    assert body["image_url"] is None


@pytest.mark.parametrize("domestic_units", [0, 3])
def test_detail_price_and_promise_equal_the_storefront_product_page(partner_client, domestic_units):
    from django.test import Client

    product = ProductFactory(asin="B0PARITY01", source_price_usd=Decimal("123.45"))
    if domestic_units:
        StockFactory(product=product, on_hand=domestic_units + 2, allocated=2)

    body = partner_client.get(detail_url("b0parity01")).json()  # ASINs are case-insensitive
    page = Client().get(product.get_absolute_url())

    assert page.status_code == 200
    shelf = pricing.shelf_price_krw(
        source_price_usd=product.source_price_usd, fx_rate=page.context["fx_rate"]
    )
    assert body["price_krw"] == shelf
    assert won(shelf) in page.content.decode()  # what the shopper reads on the page
    promise = page.context["promise"]
    api_promise = body["availability"]["delivery_promise"]
    assert body["availability"]["in_stock_domestic"] is promise.domestic is bool(domestic_units)
    assert api_promise["kind"] == ("domestic" if promise.domestic else "cross_border")
    assert api_promise["earliest_date"] == promise.earliest.isoformat()
    assert api_promise["latest_date"] == promise.latest.isoformat()
    days = stock_selectors.DOMESTIC_DAYS if domestic_units else stock_selectors.CROSS_BORDER_DAYS
    assert (api_promise["min_days"], api_promise["max_days"]) == days


def test_list_items_have_the_same_fields_and_values_as_the_detail(partner_client, tree):
    product = ProductFactory(category=tree["toys"], source_price_usd=Decimal("20.00"))
    StockFactory(product=product, on_hand=1)

    [item] = partner_client.get(LIST_URL).json()["results"]

    assert item == partner_client.get(detail_url(product.asin)).json()
    assert item["price_krw"] == 30800
    assert item["availability"]["in_stock_domestic"] is True
    assert item["availability"]["delivery_promise"]["kind"] == "domestic"


def test_reserved_units_do_not_count_as_domestic_stock(partner_client):
    product = ProductFactory()
    StockFactory(product=product, on_hand=2, allocated=1, reserved=1)

    body = partner_client.get(detail_url(product.asin)).json()

    assert body["availability"]["in_stock_domestic"] is False
    assert listed(partner_client, in_stock_domestic="true") == []


# --- Not found ---------------------------------------------------------------------------------


@pytest.mark.parametrize("asin", ["B0NOTTHERE", "short", "B0%00000000", "B0C7V4JH2K0", "ü" * 10])
def test_unknown_or_malformed_asin_is_404_in_the_standard_format(partner_client, asin):
    ProductFactory(asin="B0C7V4JH2K")

    response = partner_client.get(f"{LIST_URL}{asin}/")

    assert response.status_code == 404
    assert response.json() == {
        "code": "not_found",
        "message": response.json()["message"],
        "fields": {},
    }
    assert response.json()["message"]


def test_an_inactive_product_is_404_and_never_listed(partner_client):
    ProductFactory(asin="B0INACTIVE", is_active=False)
    active = ProductFactory()

    assert partner_client.get(detail_url("B0INACTIVE")).status_code == 404
    assert walk(partner_client) == [active.asin]


# --- Filters -----------------------------------------------------------------------------------


def test_category_filter_includes_descendants_only(partner_client, tree):
    ProductFactory(asin="B0000TOYS0", category=tree["toys"])
    ProductFactory(asin="B000PUZZLE", category=tree["puzzles"])
    ProductFactory(asin="B000JIGSAW", category=tree["jigsaw"])
    ProductFactory(asin="B00000BOOK", category=tree["books"])
    ProductFactory(asin="B0NOACTIVE", category=tree["jigsaw"], is_active=False)

    assert listed(partner_client, category="puzzles") == ["B000PUZZLE", "B000JIGSAW"]
    assert sorted(listed(partner_client, category="toys")) == [
        "B0000TOYS0",
        "B000JIGSAW",
        "B000PUZZLE",
    ]
    assert listed(partner_client, category="books") == ["B00000BOOK"]


def test_price_filters_are_in_won_at_the_shelf_price_boundaries(partner_client):
    ProductFactory(asin="B000001999", source_price_usd=Decimal("19.99"))  # ₩30,790
    ProductFactory(asin="B000002000", source_price_usd=Decimal("20.00"))  # ₩30,800
    ProductFactory(asin="B000005000", source_price_usd=Decimal("50.00"))  # ₩77,000

    assert listed(partner_client, min_price_krw=30800) == ["B000002000", "B000005000"]
    assert listed(partner_client, min_price_krw=30791) == ["B000002000", "B000005000"]
    assert listed(partner_client, max_price_krw=30790) == ["B000001999"]
    assert listed(partner_client, max_price_krw=30799) == ["B000001999"]
    assert listed(partner_client, min_price_krw=30790, max_price_krw=30800) == [
        "B000001999",
        "B000002000",
    ]
    assert listed(partner_client, min_price_krw=77000, max_price_krw=77000) == ["B000005000"]
    assert listed(partner_client, min_price_krw=0, max_price_krw=10**12) == [
        "B000001999",
        "B000002000",
        "B000005000",
    ]


def test_price_filter_follows_the_current_selling_rate(partner_client):
    from catalog.selectors import fx_cache_clear

    ProductFactory(asin="B000002000", source_price_usd=Decimal("20.00"))
    assert listed(partner_client, max_price_krw=30800) == ["B000002000"]

    ExchangeRateFactory(kind=ExchangeRate.Kind.SELLING, rate=Decimal("1500"))
    fx_cache_clear()

    assert listed(partner_client, max_price_krw=30800) == []
    [item] = partner_client.get(LIST_URL).json()["results"]
    assert item["price_krw"] == 33000  # 20 × 1500 × 1.1


def test_in_stock_domestic_true_false_and_omitted(partner_client):
    stocked = ProductFactory(asin="B0STOCKED0")
    StockFactory(product=stocked, on_hand=1)
    sold_out = ProductFactory(asin="B0SOLDOUT0")
    StockFactory(product=sold_out, on_hand=2, allocated=2)
    ProductFactory(asin="B0NOSTOCK0")

    assert listed(partner_client, in_stock_domestic="true") == ["B0STOCKED0"]
    assert listed(partner_client, in_stock_domestic="false") == ["B0SOLDOUT0", "B0NOSTOCK0"]
    assert listed(partner_client) == ["B0STOCKED0", "B0SOLDOUT0", "B0NOSTOCK0"]


def test_q_searches_like_the_storefront(partner_client):
    ProductFactory(asin="B0PUZZLE01", title="Wooden Jigsaw Puzzle", brand="Ravensburger")
    ProductFactory(asin="B0PUZZLE02", title="Plastic Puzzle", brand="Acme")
    ProductFactory(asin="B0SPOON001", title="Wooden Spoon", brand="Acme")

    assert listed(partner_client, q="puzzle") == ["B0PUZZLE01", "B0PUZZLE02"]
    assert listed(partner_client, q="  wooden   puzzle ") == ["B0PUZZLE01"]
    assert listed(partner_client, q="ravensburger") == ["B0PUZZLE01"]
    assert listed(partner_client, q="") == ["B0PUZZLE01", "B0PUZZLE02", "B0SPOON001"]


def test_updated_since_is_inclusive_and_accepts_offsets(partner_client):
    base = datetime.datetime(2026, 11, 1, 12, 0, tzinfo=datetime.UTC)
    for index, asin in enumerate(["B0OLDPROD0", "B0EDGEPROD", "B0NEWPROD0"]):
        product = ProductFactory(asin=asin)
        Product.objects.filter(pk=product.pk).update(
            updated_at=base + datetime.timedelta(hours=index)
        )

    assert listed(partner_client, updated_since="2026-11-01T13:00:00Z") == [
        "B0EDGEPROD",
        "B0NEWPROD0",
    ]
    assert listed(partner_client, updated_since="2026-11-01T22:00:00+09:00") == [
        "B0EDGEPROD",
        "B0NEWPROD0",
    ]
    # "+09:00" sent without URL-encoding arrives as " 09:00": read as meant.
    response = partner_client.get(f"{LIST_URL}?updated_since=2026-11-01T22:00:00+09:00")
    assert [item["asin"] for item in response.json()["results"]] == ["B0EDGEPROD", "B0NEWPROD0"]
    assert listed(partner_client, updated_since="2026-11-01T14:00:00.000001Z") == []


def test_an_edit_moves_a_product_into_updated_since(partner_client):
    product = ProductFactory(asin="B0EDITED00")
    ProductFactory(asin="B0UNTOUCHD")
    Product.objects.update(updated_at=timezone.now() - datetime.timedelta(days=2))
    since = (timezone.now() - datetime.timedelta(days=1)).isoformat()
    assert listed(partner_client, updated_since=since) == []

    product.title = "New title"
    product.save()

    assert listed(partner_client, updated_since=since) == ["B0EDITED00"]


def test_filters_combine(partner_client, tree):
    match = ProductFactory(
        asin="B0MATCH000", title="Wooden Puzzle", category=tree["jigsaw"], source_price_usd="20"
    )
    StockFactory(product=match, on_hand=1)
    ProductFactory(title="Wooden Puzzle", category=tree["jigsaw"], source_price_usd="20")
    cheap = ProductFactory(title="Wooden Puzzle", category=tree["jigsaw"], source_price_usd="5")
    StockFactory(product=cheap, on_hand=1)
    other = ProductFactory(title="Wooden Puzzle", category=tree["books"], source_price_usd="20")
    StockFactory(product=other, on_hand=1)

    assert listed(
        partner_client, category="toys", q="puzzle", min_price_krw=10000, in_stock_domestic="true"
    ) == ["B0MATCH000"]


# --- Bad filter values: 400 naming the field, never a 500 -------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"min_price_krw": "cheap"}, "min_price_krw"),
        ({"min_price_krw": "-1"}, "min_price_krw"),
        ({"max_price_krw": "1.5"}, "max_price_krw"),
        ({"max_price_krw": str(10**12 + 1)}, "max_price_krw"),
        ({"max_price_krw": "9" * 400}, "max_price_krw"),
        ({"in_stock_domestic": "maybe"}, "in_stock_domestic"),
        ({"updated_since": "yesterday"}, "updated_since"),
        ({"updated_since": "2026-13-01T00:00:00Z"}, "updated_since"),
        ({"updated_since": "0001-01-01T00:00:00+09:00"}, "updated_since"),
        ({"updated_since": "2026-11-01T00:00:00\x00"}, "updated_since"),
        ({"category": "no-such-category"}, "category"),
        ({"category": "toys\x00"}, "category"),
        ({"q": "x" * 201}, "q"),
        ({"q": "puzzle\x00"}, "q"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "cD1hYmM="}, "cursor"),  # base64 of "p=abc": a position that is no id
    ],
)
def test_a_bad_filter_value_is_400_naming_the_field(partner_client, tree, params, field):
    ProductFactory(category=tree["toys"])

    response = partner_client.get(LIST_URL, params)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["fields"]) == [field]
    assert body["fields"][field]
    assert "results" not in body


def test_every_bad_field_is_named_at_once(partner_client):
    response = partner_client.get(
        LIST_URL, {"min_price_krw": "x", "updated_since": "soon", "in_stock_domestic": "2"}
    )

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"min_price_krw", "updated_since", "in_stock_domestic"}


def test_min_price_above_max_price_names_both(partner_client):
    response = partner_client.get(LIST_URL, {"min_price_krw": 50000, "max_price_krw": 40000})

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"min_price_krw", "max_price_krw"}


# --- Cursor pagination -------------------------------------------------------------------------


def test_cursor_walk_visits_every_product_once_in_id_order_despite_edits(partner_client, settings):
    products = [ProductFactory() for _ in range(7)]
    expected = [p.asin for p in sorted(products, key=lambda p: p.pk)]

    seen: list[str] = []
    response = partner_client.get(LIST_URL, {"limit": 2})
    pages = 0
    while True:
        body = response.json()
        seen += [item["asin"] for item in body["results"]]
        pages += 1
        # Meanwhile every product is edited (updated_at moves to now, the price changes),
        # and the first one seen is edited again: none may appear twice or be skipped.
        for product in Product.objects.all():
            product.title += " (edited)"
            product.save()
        Product.objects.update(source_price_usd=F("source_price_usd") + 1)
        if body["next"] is None:
            break
        response = partner_client.get(body["next"])

    assert seen == expected
    assert pages == 4


def test_cursor_walk_keeps_the_filters(partner_client, tree):
    in_toys = [ProductFactory(category=tree["toys"]).asin for _ in range(5)]
    for _ in range(3):
        ProductFactory(category=tree["books"])

    assert walk(partner_client, category="toys", limit=2) == in_toys


def test_cursor_walk_through_search_results_visits_each_match_once(partner_client):
    # On PostgreSQL a search is ordered by ``id + 0`` (so the GIN index is used): the
    # cursor must still walk the matches in id order.
    matches = [ProductFactory(title=f"Wooden Puzzle {n}").asin for n in range(5)]
    ProductFactory(title="Wooden Spoon")

    assert walk(partner_client, q="puzzle", limit=2) == matches


def test_previous_leads_back_to_the_first_page(partner_client):
    asins = [ProductFactory().asin for _ in range(5)]

    first = partner_client.get(LIST_URL, {"limit": 2}).json()
    second = partner_client.get(first["next"]).json()
    back = partner_client.get(second["previous"]).json()

    assert first["previous"] is None
    assert [i["asin"] for i in second["results"]] == asins[2:4]
    assert [i["asin"] for i in back["results"]] == asins[:2]


def test_limit_is_bounded(partner_client, settings):
    settings.API_PAGE_SIZE = 3
    settings.API_PAGE_SIZE_MAX = 5
    for _ in range(8):
        ProductFactory()

    assert len(listed(partner_client)) == 3
    assert len(listed(partner_client, limit=4)) == 4
    assert len(listed(partner_client, limit=1000)) == 5
    assert len(listed(partner_client, limit=0)) == 1
    assert len(listed(partner_client, limit=-3)) == 1


def test_cursors_are_opaque_and_stay_on_the_endpoint(partner_client):
    for _ in range(3):
        ProductFactory()

    next_url = partner_client.get(LIST_URL, {"limit": 1}).json()["next"]

    parts = urlsplit(next_url)
    assert parts.path == LIST_URL
    assert set(parse_qs(parts.query)) == {"cursor", "limit"}


# --- Query counts ------------------------------------------------------------------------------


def _make_products(count: int, category) -> None:
    for index in range(count):
        product = ProductFactory(category=category, title=f"Wooden Puzzle {index}")
        if index % 2 == 0:
            StockFactory(product=product, on_hand=1)


@pytest.mark.parametrize("count", [1, 20])
def test_list_query_count_does_not_grow_with_the_page(
    partner_client, tree, count, django_assert_num_queries
):
    _make_products(count, tree["jigsaw"])
    params = {"limit": 50}
    partner_client.get(LIST_URL, params)  # warms the FX rate, the key and its last_used_at

    # The page (the key with its partner is cached).
    with django_assert_num_queries(1):
        response = partner_client.get(LIST_URL, params)
    assert len(response.json()["results"]) == count

    # + the category and its subtree's ids.
    with django_assert_num_queries(3):
        response = partner_client.get(
            LIST_URL, {**params, "category": "toys", "in_stock_domestic": "false"}
        )
    assert len(response.json()["results"]) == count // 2


def test_detail_is_one_query(partner_client, tree, django_assert_num_queries):
    product = ProductFactory(category=tree["jigsaw"])
    StockFactory(product=product, on_hand=1)
    partner_client.get(detail_url(product.asin))  # warms the key (cached with its partner)

    with django_assert_num_queries(1):
        response = partner_client.get(detail_url(product.asin))
    assert response.status_code == 200


# --- Schema ------------------------------------------------------------------------------------


def test_schema_documents_the_filters_and_the_product():
    schema = SchemaGenerator().get_schema(request=None, public=True)

    operation = schema["paths"]["/api/v1/products/"]["get"]
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert names >= {
        "category",
        "min_price_krw",
        "max_price_krw",
        "in_stock_domestic",
        "q",
        "updated_since",
        "cursor",
        "limit",
    }
    assert set(operation["responses"]) >= {"200", "400", "401", "403"}
    detail = schema["paths"]["/api/v1/products/{asin}/"]["get"]
    assert set(detail["responses"]) >= {"200", "401", "403", "404"}
    product = schema["components"]["schemas"]["Product"]["properties"]
    assert set(product) == {
        "asin",
        "title",
        "brand",
        "category",
        "price_krw",
        "source_price_usd",
        "availability",
        "weight_kg",
        "customs_class",
        "image_url",
        "updated_at",
        "url",
    }
    assert product["price_krw"]["type"] == "integer"
    assert product["source_price_usd"]["type"] == "string"
    promise = schema["components"]["schemas"]["DeliveryPromise"]["properties"]
    assert set(promise) >= {"kind", "min_days", "max_days"}
