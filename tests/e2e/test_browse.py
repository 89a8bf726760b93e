"""A shopper in Chromium: home page, search, a product page, and the English switch.

Product images point at a URL that fails (as every Amazon image does offline), so the
placeholder must replace them. Screenshots: test-artifacts/e2e-*.png."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from catalog.models import ExchangeRate
from tests.factories import (
    CategoryFactory,
    ExchangeRateFactory,
    ProductFactory,
    StockFactory,
    WarehouseFactory,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PLACEHOLDER = re.compile(r"/static/img/placeholder\.svg$")


@pytest.fixture
def catalog(live_server, settings):
    settings.PRICE_MARGIN = Decimal("0.10")
    ExchangeRateFactory(kind=ExchangeRate.Kind.SELLING, rate=Decimal("1400"))
    toys = CategoryFactory(name="Toys & Games", slug="toys")
    puzzles = CategoryFactory(name="Puzzles", slug="puzzles", parent=toys)
    broken_image = f"{live_server.url}/static/img/no-such-product-photo.jpg"
    puzzle = ProductFactory(
        asin="B0E2EPUZZL",
        title="Wooden Jigsaw Puzzle, 500 pieces",
        brand="Ravensburger",
        source_price_usd=Decimal("19.99"),  # ₩30,790
        category=puzzles,
        image_urls=[broken_image],
        bullet_points=["Birch wood", "Fits a 50 cm frame"],
        rating=Decimal("4.6"),
        review_count=321,
    )
    StockFactory(product=puzzle, warehouse=WarehouseFactory(code="icn"), on_hand=5)
    mat = ProductFactory(
        asin="B0E2EMAT01",
        title="Puzzle Mat Roll-up, 1500 pieces",
        source_price_usd=Decimal("250.00"),
        category=toys,
        image_urls=[broken_image, broken_image],
        weight_estimated=True,
    )
    ProductFactory.create_batch(4, category=toys, image_urls=[broken_image])
    return {"puzzle": puzzle, "mat": mat}


def test_shopper_searches_and_sees_price_and_delivery_promise(page, catalog, artifacts_dir):
    puzzle = catalog["puzzle"]

    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    expect(page.get_by_role("heading", level=1)).to_have_text("미국 아마존 상품을 한국까지")
    # Keyboard users land on the skip link first.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="본문으로 바로가기")).to_be_focused()
    first_card_image = page.locator(".card-image").first
    expect(first_card_image).to_have_attribute("src", PLACEHOLDER)
    page.screenshot(path=artifacts_dir / "e2e-home.png", full_page=True)

    search_box = page.get_by_role("searchbox", name="상품 검색")
    search_box.fill("puzzle")
    search_box.press("Enter")
    page.wait_for_url("**/search/?q=puzzle")
    expect(page.get_by_role("heading", level=1)).to_have_text("“puzzle” 검색 결과")
    expect(page.locator(".results .card")).to_have_count(2)
    page.screenshot(path=artifacts_dir / "e2e-search.png", full_page=True)

    page.get_by_role("link", name=puzzle.title).click()
    page.wait_for_url(f"**/products/{puzzle.asin}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(puzzle.title)
    expect(page.locator(".product-price .price")).to_have_text("₩30,790")
    expect(page.locator(".delivery .promise")).to_have_text("국내 출고: 영업일 기준 1–2일 도착")
    expect(page.locator(".promise-dates time").first).to_have_attribute(
        "datetime", re.compile(r"^\d{4}-\d\d-\d\d$")
    )
    expect(page.locator(".import-fees")).to_have_count(0)
    main_image = page.locator("#gallery-main")
    expect(main_image).to_have_attribute("src", PLACEHOLDER)
    assert main_image.evaluate("img => img.complete && img.naturalWidth > 0")
    expect(main_image).to_have_attribute("alt", puzzle.title)
    page.screenshot(path=artifacts_dir / "e2e-product.png", full_page=True)

    # Mobile first: on a phone-sized screen nothing overflows sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=artifacts_dir / "e2e-product-mobile.png", full_page=True)


def test_english_switch_keeps_the_page_and_translates_it(page, catalog, artifacts_dir):
    mat = catalog["mat"]

    page.goto(mat.get_absolute_url())
    expect(page.get_by_role("heading", name="예상 관부가세")).to_be_visible()
    expect(page.locator(".import-fees")).to_contain_text("면세 한도 USD 200.00")

    page.get_by_role("button", name="English").click()
    page.wait_for_url(f"**{mat.get_absolute_url()}")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("button", name="English")).to_have_attribute("aria-pressed", "true")
    expect(page.locator(".delivery .promise")).to_have_text(
        "Ships from the US: arrives in 6–10 days"
    )
    fees = page.locator(".import-fees")
    expect(fees.get_by_role("heading")).to_have_text("Estimated import fees")
    expect(fees).to_contain_text("is over the USD 200.00 duty-free limit")
    expect(fees).to_contain_text("is estimated from the category")
    page.screenshot(path=artifacts_dir / "e2e-product-english.png", full_page=True)

    page.get_by_role("button", name="한국어").click()
    expect(page.locator("html")).to_have_attribute("lang", "ko")
