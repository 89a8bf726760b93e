"""The landed-cost quote (orders.quote.quote_build): items, shipping, the customs decision
for the cross-border part, discount and total, at given rates."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orders.quote import QuoteRequestLine, quote_build
from tests.factories import CustomsClassFactory, ProductFactory

pytestmark = pytest.mark.django_db

FX = Decimal("1400")  # selling and customs rate in these tests


def quote(*lines, discount=0):
    return quote_build(
        lines=[QuoteRequestLine(product=p, quantity=q, domestic_quantity=d) for p, q, d in lines],
        discount_krw=discount,
        fx_selling_rate=FX,
        fx_customs_rate=FX,
    )


def test_domestic_only_under_threshold_pays_domestic_shipping_and_no_customs(settings):
    settings.PRICE_MARGIN = Decimal("0.10")
    product = ProductFactory(source_price_usd=Decimal("10.00"))  # 10 × 1400 × 1.1 = 15,400
    q = quote((product, 1, 1))
    assert q.items_krw == 15400
    assert (q.domestic_shipping_krw, q.cross_border_shipping_krw) == (3000, 0)
    assert q.has_cross_border is False
    assert q.import_fees_krw == 0
    assert q.total_krw == 18400


def test_free_shipping_from_threshold(settings):
    settings.PRICE_MARGIN = Decimal("0.10")
    product = ProductFactory(source_price_usd=Decimal("10.00"))
    q = quote((product, 2, 1))  # 30,800 ≥ 28,000; one unit domestic, one cross-border
    assert q.items_krw == 30800
    assert q.shipping_krw == 0
    assert q.lines[0].domestic_quantity == 1
    assert q.lines[0].cross_border_quantity == 1
    assert q.customs.duty_free is True
    assert q.total_krw == 30800


def test_cross_border_under_threshold_pays_freight_by_weight(settings):
    settings.PRICE_MARGIN = Decimal("0.10")
    product = ProductFactory(source_price_usd=Decimal("5.00"), weight_kg=Decimal("1.200"))
    q = quote((product, 1, 0))  # 1.2 kg: 6,000 + one started 0.5 kg step 2,000
    assert q.cross_border_shipping_krw == 8000
    assert q.domestic_shipping_krw == 0
    assert q.total_krw == q.items_krw + 8000


def test_over_the_limit_taxes_the_whole_cross_border_value(settings):
    settings.PRICE_MARGIN = Decimal("0.10")
    clothing = CustomsClassFactory(code="clothing", duty_rate=Decimal("0.13"))
    product = ProductFactory(
        source_price_usd=Decimal("210.00"), weight_kg=Decimal("0.500"), customs_class=clothing
    )
    q = quote((product, 1, 0))
    assert q.customs.duty_free is False
    # customs value = 210 × 1400 + 6,000 freight = 300,000; duty 13% = 39,000;
    # VAT 10% of 339,000 = 33,900
    assert q.customs.customs_value_krw == 300000
    assert (q.duty_krw, q.vat_krw) == (39000, 33900)
    assert (q.lines[0].duty_krw, q.lines[0].vat_krw) == (39000, 33900)
    assert q.total_krw == q.items_krw + 39000 + 33900


def test_domestic_units_are_not_assessed_by_customs(settings):
    settings.PRICE_MARGIN = Decimal("0.10")
    product = ProductFactory(source_price_usd=Decimal("120.00"))
    q = quote((product, 2, 1))  # USD 240 in all, but only USD 120 crosses the border
    assert q.customs.goods_value_usd == Decimal("120.00")
    assert q.customs.duty_free is True
    assert q.import_fees_krw == 0


def test_a_not_list_cleared_item_lowers_the_limit_to_150(settings):
    settings.PRICE_MARGIN = Decimal("0.10")
    supplements = CustomsClassFactory(
        code="health_supplements", duty_rate=Decimal("0.08"), list_clearance=False
    )
    vitamins = ProductFactory(source_price_usd=Decimal("160.00"), customs_class=supplements)
    q = quote((vitamins, 1, 0))
    assert q.customs.duty_free_limit_usd == Decimal("150")
    assert q.customs.duty_free is False
    assert q.import_fees_krw > 0


def test_discount_is_subtracted_and_never_exceeds_items(settings):
    settings.PRICE_MARGIN = Decimal("0.10")
    product = ProductFactory(source_price_usd=Decimal("10.00"))
    assert quote((product, 1, 1), discount=1000).total_krw == 17400
    assert quote((product, 1, 1), discount=10**9).discount_krw == 15400
