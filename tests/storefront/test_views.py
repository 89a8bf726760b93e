"""Site-wide pages: home, error pages, language and the page skeleton."""

from __future__ import annotations

import gettext
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.test import RequestFactory
from django.urls import reverse

from catalog.models import ExchangeRate
from storefront import views
from tests.factories import (
    CategoryFactory,
    ExchangeRateFactory,
    ProductFactory,
    StockFactory,
    WarehouseFactory,
)

pytestmark = pytest.mark.django_db

PO_FILE = Path(settings.BASE_DIR) / "locale" / "ko" / "LC_MESSAGES" / "django.po"


@pytest.fixture(autouse=True)
def selling_rate(settings):
    settings.PRICE_MARGIN = Decimal("0.10")
    return ExchangeRateFactory(kind=ExchangeRate.Kind.SELLING, rate=Decimal("1400"))


# --- Home ------------------------------------------------------------------------------------


def test_home_shows_new_and_popular_products_and_top_level_categories(client):
    toys = CategoryFactory(name="Toys & Games", slug="toys")
    CategoryFactory(name="Puzzles", slug="puzzles", parent=toys)
    CategoryFactory(name="Books", slug="books")
    ProductFactory(title="Old favourite", review_count=5000)
    newest = ProductFactory(title="Brand new", review_count=0, source_price_usd=Decimal("19.99"))
    ProductFactory(title="Hidden", is_active=False)

    response = client.get("/")

    assert response.status_code == 200
    assert response.context["newest"][0] == newest
    assert response.context["popular"][0].title == "Old favourite"
    assert [c.name for c in response.context["categories"]] == ["Books", "Toys & Games"]
    html = response.content.decode()
    assert "Hidden" not in html
    assert "Puzzles" not in html  # only top-level categories
    assert '<strong class="price">₩30,790</strong>' in html


def card_for(html: str, title: str) -> str:
    """The first product card (``<article class="card">…</article>``) showing ``title``."""
    cards = re.findall(r'<article class="card">.*?</article>', html, re.S)
    return next(card for card in cards if title in card)


def test_product_cards_have_image_title_price_rating_and_fast_delivery_badge(client):
    abroad = ProductFactory(
        title="Imported lamp",
        image_urls=["https://m.media-amazon.com/images/I/lamp.jpg"],
        rating=Decimal("4.5"),
        review_count=1234,
        source_price_usd=Decimal("19.99"),
        list_price_usd=Decimal("29.99"),
    )
    in_korea = ProductFactory(title="Local lamp", image_urls=[])
    StockFactory(product=in_korea, warehouse=WarehouseFactory(code="icn"), on_hand=2)

    html = client.get("/", HTTP_COOKIE="django_language=en").content.decode()

    card = card_for(html, "Imported lamp")
    assert f'href="{abroad.get_absolute_url()}"' in card
    assert 'src="https://m.media-amazon.com/images/I/lamp.jpg"' in card
    assert '<strong class="price">₩30,790</strong>' in card
    assert '<del class="list-price">₩46,190</del>' in card  # 29.99 × 1540 = 46,184.6
    assert "4.5 out of 5 (1,234 reviews)" in card
    assert "Fast delivery" not in card
    local = card_for(html, "Local lamp")
    assert 'src="/static/img/placeholder.svg"' in local
    assert '<p class="badge badge-fast">Fast delivery</p>' in local


def test_home_with_an_empty_catalog_still_renders(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "아직 상품이 없습니다." in response.content.decode()


def test_home_without_any_fx_rate_prices_at_the_seed_rate(client, settings):
    ExchangeRate.objects.all().delete()
    settings.FX_SEED_USD_KRW = Decimal("1000")
    ProductFactory(source_price_usd=Decimal("10"))
    assert '<strong class="price">₩11,000</strong>' in client.get("/").content.decode()


# FX rate, newest, popular, top-level categories (the header menu reuses them from cache).
HOME_QUERIES = 4


@pytest.mark.parametrize("count", [10, 50, 100])
def test_home_query_count_does_not_grow_with_the_number_of_products(
    client, settings, django_assert_num_queries, count
):
    settings.CATALOG_PAGE_SIZE = 100
    toys = CategoryFactory(slug="toys")
    products = ProductFactory.create_batch(
        count,
        category=toys,
        image_urls=["https://m.media-amazon.com/x.jpg"],
        rating=Decimal("4.2"),
        review_count=7,
        list_price_usd=Decimal("50"),
    )
    warehouse = WarehouseFactory(code="icn")
    for product in products[::2]:
        StockFactory(product=product, warehouse=warehouse)

    with django_assert_num_queries(HOME_QUERIES):
        response = client.get("/")

    assert len(response.context["newest"]) == count
    assert len(response.context["popular"]) == count
    assert response.content.decode().count('class="badge badge-fast"') == 2 * len(products[::2])


# --- Error pages -----------------------------------------------------------------------------


def test_unknown_url_is_the_site_404_page(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert '<html lang="ko"' in html
    assert "<h1>페이지를 찾을 수 없습니다</h1>" in html
    assert '<form class="inline-search" role="search" action="/search/"' in html
    assert '<a href="/">홈으로 가기</a>' in html


def test_500_page_renders_without_the_request_context(django_assert_num_queries):
    request = RequestFactory().get("/")
    with django_assert_num_queries(0):  # the failure may well be the database
        response = views.server_error(request)
    assert response.status_code == 500
    html = response.content.decode()
    assert "<h1>문제가 발생했습니다</h1>" in html
    assert 'href="/static/css/site.css"' in html
    assert 'role="search"' in html


# --- Language --------------------------------------------------------------------------------


def test_korean_is_the_default_language(client):
    html = client.get("/").content.decode()
    assert '<html lang="ko"' in html
    assert '<h1 id="home-heading">미국 아마존 상품을 한국까지</h1>' in html
    assert 'value="ko" lang="ko" aria-pressed="true">한국어</button>' in html


def test_an_english_browser_still_gets_korean_until_the_shopper_switches(client):
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert '<html lang="ko"' in html
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert '<html lang="en"' in client.get("/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()


def test_switching_to_english_and_back(client):
    ProductFactory(title="Lamp")
    response = client.post(reverse("set_language"), {"language": "en", "next": "/search/?q=lamp"})
    assert response.status_code == 302
    assert response["Location"] == "/search/?q=lamp"

    html = client.get("/").content.decode()
    assert '<html lang="en"' in html
    assert '<h1 id="home-heading">Amazon US products, delivered to Korea</h1>' in html
    assert 'value="en" lang="en" aria-pressed="true">English</button>' in html
    html = client.get("/search/", {"q": "lamp"}).content.decode()
    assert "Results for “lamp”" in html
    assert "1 product" in html

    client.post(reverse("set_language"), {"language": "ko", "next": "/"})
    assert "“lamp” 검색 결과" in client.get("/search/", {"q": "lamp"}).content.decode()


def test_language_switch_returns_to_the_same_page(client):
    html = client.get("/search/", {"q": "lamp", "page": "1"}).content.decode()
    assert '<input type="hidden" name="next" value="/search/?q=lamp&amp;page=1">' in html


# --- Page skeleton: landmarks, headings, labels, credits ---------------------------------------


@pytest.fixture
def pages(client):
    toys = CategoryFactory(name="Toys", slug="toys")
    CategoryFactory(name="Puzzles", slug="puzzles", parent=toys)
    product = ProductFactory(
        category=toys,
        image_urls=["https://m.media-amazon.com/a.jpg", "https://m.media-amazon.com/b.jpg"],
    )
    urls = ["/", toys.get_absolute_url(), "/search/?q=test", product.get_absolute_url(), "/nope/"]
    return {url: client.get(url).content.decode() for url in urls}


def test_every_page_has_the_accessible_skeleton(pages):
    for url, html in pages.items():
        assert re.search(r'<html lang="(ko|en)"', html), url
        assert '<a class="skip-link" href="#main">' in html, url
        for landmark in ("<header", "<nav", '<main id="main"', "<footer"):
            assert landmark in html, (url, landmark)
        assert len(re.findall(r"<h1[ >]", html)) == 1, url
        assert '<meta name="viewport"' in html, url
        assert "Amazon Products Dataset 2023" in html, url
        assert "PromptCloud Amazon Product Dataset 2020" in html, url


def test_every_image_has_alt_text_and_every_input_a_label(pages):
    for url, html in pages.items():
        for img in re.findall(r"<img [^>]*>", html):
            assert re.search(r' alt="[^"]*"', img), (url, img)
        labels = set(re.findall(r'<label[^>]* for="([^"]+)"', html))
        for field in re.findall(r"<(?:input|select)\b[^>]*>", html):
            if 'type="hidden"' in field or 'type="submit"' in field:
                continue
            field_id = re.search(r' id="([^"]+)"', field)
            assert field_id, (url, field)
            assert field_id.group(1) in labels, (url, field)


def test_no_inline_scripts_or_handlers(pages):
    """A Content-Security-Policy is coming: scripts only from static files."""
    for url, html in pages.items():
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == [], url
        assert not re.search(r"\son[a-z]+=", html), url
        assert " style=" not in html, url


def test_static_assets_are_served(client):
    for path in ("css/site.css", "js/site.js", "img/placeholder.svg"):
        response = client.get(f"/static/{path}")
        assert response.status_code == 200, path


# --- Translations ----------------------------------------------------------------------------

# Sources whose strings shoppers read. Admin-only strings are translated as well, but an
# untranslated one there does not leave a shopper with English on a Korean page.
SHOPPER_SOURCES = (
    "templates/",
    "catalog/views.py",
    "catalog/forms.py",
    "catalog/pricing.py",
    "storefront/views.py",
    "storefront/accounts/",
    "fulfillment/selectors.py",
    "fulfillment/services/reservations.py",  # its errors reach the checkout and pay pages
    "orders/",
    "membership/",
)
# Staff-only parts inside those sources (the admin pages and their templates).
# The partner API's schema texts (orders/api/) are documentation for partners' engineers.
STAFF_ONLY_SOURCES = (
    "orders/admin.py",
    "orders/templates/admin/",
    "membership/admin.py",
    "templates/admin/",
    "orders/api/",
)


def po_entries(path: Path) -> list[dict]:
    """A minimal .po reader: references, flags, context, msgid and the first msgstr."""
    entries, entry, key = [], {}, None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if "msgid" in entry:
                entries.append(entry)
            entry, key = {}, None
        elif line.startswith("#:"):
            entry.setdefault("refs", []).extend(line[2:].split())
        elif line.startswith("#,"):
            entry.setdefault("flags", []).extend(f.strip() for f in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            entry[key] += json.loads(line)
        else:
            keyword, _, rest = line.partition(" ")
            key = {"msgstr[0]": "msgstr"}.get(keyword, keyword)
            if key == "msgstr" and "msgstr" in entry:
                key = "ignored"  # further plural forms (Korean has one)
            entry[key] = json.loads(rest)
    return [e for e in entries if e["msgid"]]  # drop the header


def test_every_shopper_string_has_a_korean_translation():
    missing = [
        e["msgid"]
        for e in po_entries(PO_FILE)
        if any(
            ref.startswith(SHOPPER_SOURCES) and not ref.startswith(STAFF_ONLY_SOURCES)
            for ref in e.get("refs", [])
        )
        and (not e.get("msgstr") or "fuzzy" in e.get("flags", []))
    ]
    assert missing == []


def test_compiled_catalog_matches_the_po_file():
    """The .mo is committed (tests and servers need no gettext tools): it must be current."""
    compiled = gettext.GNUTranslations(PO_FILE.with_suffix(".mo").open("rb"))
    stale = []
    for e in po_entries(PO_FILE):
        if not e.get("msgstr") or "fuzzy" in e.get("flags", []):
            continue
        msgid = e["msgid"]
        if "msgctxt" in e:
            got = compiled.pgettext(e["msgctxt"], msgid)
        elif "msgid_plural" in e:
            got = compiled.ngettext(msgid, e["msgid_plural"], 1)
        else:
            got = compiled.gettext(msgid)
        if got != e["msgstr"]:
            stale.append(msgid)
    assert stale == []
