"""catalog.pricing against DOMAIN.md (Prices, Shipping, Customs), with expected amounts
computed by hand in the comments next to each case.

Customs cases use a customs rate of ₩1,388.20/USD and the seeded class rules unless a case
says otherwise; limits are USD 150 (general) and USD 200 (every item list-clearable).
"""

from __future__ import annotations

import bisect
from decimal import Decimal

import pytest
from django.utils import translation

from catalog.models import CustomsClass
from catalog.pricing import (
    CustomsLine,
    cross_border_freight_krw,
    customs_assess,
    duty_free_limit_usd,
    shelf_price_krw,
    usd_range_for_krw_range,
)

D = Decimal
RATE = D("1388.20")


def clothing(usd: str, ref: str = "shirt") -> CustomsLine:
    return CustomsLine(ref, D(usd), D("0.13"), description="T-shirt")


def supplements(usd: str, ref: str = "vitamins") -> CustomsLine:
    return CustomsLine(ref, D(usd), D("0.08"), list_clearance=False, description="Vitamin D3")


def toys(usd: str, ref: str = "lego") -> CustomsLine:
    return CustomsLine(ref, D(usd), D("0.08"), description="LEGO set")


def books(usd: str, ref: str = "book") -> CustomsLine:
    return CustomsLine(ref, D(usd), D("0"), vat_applies=False, description="Novel")


# --- Shelf price --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("usd", "fx", "margin", "expected"),
    [
        # 19.99 × 1391.50 × 1.10 = 30,597.6935 → up to ₩30,600
        ("19.99", "1391.50", "0.10", 30_600),
        # 10 × 1400 × 1.10 = 15,400 exactly: already a multiple of ₩10, stays
        ("10.00", "1400.00", "0.10", 15_400),
        # 10 × 1400.0001 × 1.10 = 15,400.0011: any fraction over goes up a full ₩10
        ("10.00", "1400.0001", "0.10", 15_410),
        # 0.01 × 1391.50 × 1.10 = 15.3065 → ₩20
        ("0.01", "1391.50", "0.10", 20),
        # no margin: 1 × 1391.50 = 1,391.5 → ₩1,400
        ("1.00", "1391.50", "0", 1_400),
        # 249.99 × 1388.20 = 347,036.118; × 1.15 = 399,091.5357 → ₩399,100
        ("249.99", "1388.20", "0.15", 399_100),
    ],
)
def test_shelf_price_is_usd_times_rate_times_margin_rounded_up_to_ten_won(
    usd, fx, margin, expected
):
    price = shelf_price_krw(source_price_usd=D(usd), fx_rate=D(fx), margin=D(margin))

    assert price == expected
    assert isinstance(price, int)


def test_shelf_price_takes_the_margin_from_settings(settings):
    settings.PRICE_MARGIN = D("0.20")

    # 1 × 1000 × 1.20 = 1,200
    assert shelf_price_krw(source_price_usd=D("1.00"), fx_rate=D("1000")) == 1_200


# --- Won price filter → USD range -----------------------------------------------------------

CENTS = [D(cents) / 100 for cents in range(1, 40_001)]  # USD 0.01 … 400.00


@pytest.mark.parametrize("fx", [D("1391.50"), D("1388.2"), D("1234.5678"), D("1000")])
def test_usd_range_for_krw_range_is_exact_against_the_shelf_price(fx):
    """For every cent from USD 0.01 to 400.00: inside the USD range ⇔ shelf price inside
    the won range, at bounds that are price points, between price points and off the
    ends."""
    prices = [shelf_price_krw(source_price_usd=usd, fx_rate=fx) for usd in CENTS]
    assert prices == sorted(prices)  # the shelf price never falls as the USD price rises
    bounds = [
        (prices[1_000], prices[5_000]),  # exact price points
        (prices[1_000] + 5, prices[5_000] - 5),  # between price points
        (prices[1_000] - 5, prices[5_000] + 5),
        (prices[0], prices[0]),
        (0, prices[123]),
        (prices[30_000], None),
        (None, prices[777]),
        (prices[2_000] + 1, prices[2_000] + 9),  # between two neighbouring price points
        (15_000, 30_000),  # round numbers a shopper types
        (1, 10),  # below the cheapest price
    ]
    for min_krw, max_krw in bounds:
        low, high = usd_range_for_krw_range(min_krw=min_krw, max_krw=max_krw, fx_rate=fx)
        first = bisect.bisect_left(prices, min_krw) if min_krw is not None else 0
        last = bisect.bisect_right(prices, max_krw) - 1 if max_krw is not None else None
        if min_krw is None:
            assert low is None
        elif first < len(CENTS) and (last is None or first <= last):
            assert low == CENTS[first], (min_krw, max_krw)
        if max_krw is None:
            assert high is None
        elif last is not None and last >= 0 and first <= last:
            assert high == CENTS[last], (min_krw, max_krw)
        # The defining property, cent by cent.
        for usd, price in zip(CENTS, prices, strict=True):
            in_won = (min_krw is None or price >= min_krw) and (max_krw is None or price <= max_krw)
            in_usd = (low is None or usd >= low) and (high is None or usd <= high)
            assert in_won == in_usd, (usd, price, min_krw, max_krw, low, high)


def test_usd_range_uses_the_settings_margin(settings):
    settings.PRICE_MARGIN = D("0")

    # margin 0, fx 1000: USD 9.99 → ₩9,990, 10.00 → ₩10,000, 10.01 → ₩10,010
    assert usd_range_for_krw_range(min_krw=10_000, max_krw=10_000, fx_rate=D("1000")) == (
        D("10.00"),
        D("10.00"),
    )


# --- Cross-border freight ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kg", "won"),
    [
        ("0", 6_000),
        ("0.2", 6_000),
        ("1", 6_000),  # up to 1 kg: the base fee
        ("1.001", 8_000),  # a started half kilo costs ₩2,000
        ("1.5", 8_000),
        ("1.501", 10_000),
        ("2", 10_000),
        ("2.001", 12_000),
        ("10", 42_000),  # 6,000 + 18 × 2,000
    ],
)
def test_cross_border_freight_by_weight(kg, won):
    assert cross_border_freight_krw(weight_kg=D(kg)) == won


# --- Customs: the duty-free limit ----------------------------------------------------------


@pytest.mark.parametrize(
    ("usd", "duty_free"), [("149.99", True), ("150.00", True), ("150.01", False)]
)
def test_general_import_limit_is_150_at_or_under(usd, duty_free):
    assessment = customs_assess(lines=[supplements(usd)], freight_krw=6_000, customs_rate=RATE)

    assert assessment.duty_free_limit_usd == D("150")
    assert assessment.duty_free is duty_free
    if duty_free:
        assert (assessment.duty_krw, assessment.vat_krw, assessment.import_fees_krw) == (0, 0, 0)


@pytest.mark.parametrize(
    ("usd", "duty_free"), [("199.99", True), ("200.00", True), ("200.01", False)]
)
def test_list_clearance_limit_is_200_at_or_under(usd, duty_free):
    assessment = customs_assess(
        lines=[clothing("150.00"), toys(str(D(usd) - D("150.00")))],
        freight_krw=6_000,
        customs_rate=RATE,
    )

    assert assessment.goods_value_usd == D(usd)
    assert assessment.duty_free_limit_usd == D("200")
    assert assessment.duty_free is duty_free
    if duty_free:
        assert assessment.import_fees_krw == 0


def test_one_cent_over_150_taxes_the_whole_value_plus_freight():
    assessment = customs_assess(lines=[supplements("150.01")], freight_krw=6_000, customs_rate=RATE)

    # customs value: 150.01 × 1,388.20 = 208,243.882 + freight 6,000 → ₩214,244
    # duty 8%: 17,139.52 → ₩17,140; VAT 10% of (214,244 + 17,140) = 23,138.4 → ₩23,138
    assert assessment.duty_free is False
    assert assessment.customs_value_krw == 214_244
    assert assessment.duty_krw == 17_140
    assert assessment.vat_krw == 23_138
    assert assessment.import_fees_krw == 40_278
    assert assessment.freight_krw == 6_000
    assert assessment.customs_rate == RATE


def test_one_cent_over_200_taxes_the_whole_value_not_the_excess():
    assessment = customs_assess(lines=[clothing("200.01")], freight_krw=6_000, customs_rate=RATE)

    # 200.01 × 1,388.20 = 277,653.882 + 6,000 → ₩283,654 (the excess alone would be ₩6,014)
    # duty 13%: 36,875.02 → ₩36,875; VAT: (283,654 + 36,875) × 10% = 32,052.9 → ₩32,053
    assert assessment.customs_value_krw == 283_654
    assert assessment.duty_krw == 36_875
    assert assessment.vat_krw == 32_053


def test_the_limit_ignores_freight():
    # USD 150.00 of goods with ₩40,000 of freight is still within the limit.
    assessment = customs_assess(
        lines=[supplements("150.00")], freight_krw=40_000, customs_rate=RATE
    )

    assert assessment.duty_free is True


def test_a_non_list_clearance_item_pulls_the_whole_order_to_the_150_limit():
    listed_only = customs_assess(
        lines=[clothing("140.00"), toys("10.01")], freight_krw=8_000, customs_rate=RATE
    )
    with_supplements = customs_assess(
        lines=[clothing("140.00"), supplements("10.01")], freight_krw=8_000, customs_rate=RATE
    )

    assert listed_only.duty_free is True  # 150.01 ≤ 200
    assert listed_only.duty_free_limit_usd == D("200")
    assert with_supplements.duty_free is False  # 150.01 > 150
    assert with_supplements.duty_free_limit_usd == D("150")
    # Freight by value: 8,000 × 140.00 / 150.01 = 7,466.17 → ₩7,466; the last line takes
    # the rest, ₩534, so the shares add up to the freight exactly.
    # shirt:    194,348.00 + 7,466 = ₩201,814; duty 13% 26,235.82 → ₩26,236;
    #           VAT (201,814 + 26,236) × 10% = ₩22,805
    # vitamins: 13,895.882 + 534 = 14,429.882 → ₩14,430; duty 8% 1,154.4 → ₩1,154;
    #           VAT (14,430 + 1,154) × 10% = 1,558.4 → ₩1,558
    assert [
        (x.reference, x.customs_value_krw, x.duty_krw, x.vat_krw) for x in with_supplements.lines
    ] == [
        ("shirt", 201_814, 26_236, 22_805),
        ("vitamins", 14_430, 1_154, 1_558),
    ]
    assert with_supplements.customs_value_krw == 216_244
    assert with_supplements.duty_krw == 27_390
    assert with_supplements.vat_krw == 24_363
    assert with_supplements.import_fees_krw == 51_753


def test_books_pay_no_duty_and_no_vat_even_over_the_limit():
    assessment = customs_assess(lines=[books("250.00")], freight_krw=6_000, customs_rate=RATE)

    # Over the limit, so assessed: 250 × 1,388.20 + 6,000 = ₩353,050 — and nothing due.
    assert assessment.duty_free is False
    assert assessment.customs_value_krw == 353_050
    assert (assessment.duty_krw, assessment.vat_krw, assessment.import_fees_krw) == (0, 0, 0)


def test_books_count_towards_the_limit_and_the_other_lines_are_taxed():
    assessment = customs_assess(
        lines=[books("150.00"), clothing("60.00")], freight_krw=6_000, customs_rate=RATE
    )

    # 210.00 > 200. Freight: 6,000 × 150/210 = 4,285.71 → ₩4,286; the shirt gets ₩1,714.
    # book:  208,230 + 4,286 = ₩212,516, no duty, no VAT
    # shirt: 83,292 + 1,714 = ₩85,006; duty 13% 11,050.78 → ₩11,051;
    #        VAT (85,006 + 11,051) × 10% = 9,605.7 → ₩9,606
    assert [(x.customs_value_krw, x.duty_krw, x.vat_krw) for x in assessment.lines] == [
        (212_516, 0, 0),
        (85_006, 11_051, 9_606),
    ]
    assert assessment.import_fees_krw == 20_657


def test_cif_freight_is_part_of_the_customs_value_and_shares_add_up_exactly():
    lines = [toys("70.00", "a"), toys("70.00", "b"), toys("70.00", "c")]

    without_freight = customs_assess(lines=lines, freight_krw=0, customs_rate=RATE)
    with_freight = customs_assess(lines=lines, freight_krw=10_000, customs_rate=RATE)

    # 70 × 1,388.20 = ₩97,174 each; ₩10,000 of freight in thirds on running totals:
    # round(3,333.3) = 3,333, round(6,666.7) − 3,333 = 3,334, 10,000 − 6,667 = 3,333.
    assert [x.customs_value_krw for x in without_freight.lines] == [97_174] * 3
    assert [x.customs_value_krw for x in with_freight.lines] == [100_507, 100_508, 100_507]
    assert with_freight.customs_value_krw - without_freight.customs_value_krw == 10_000
    # duty 8% of 100,507 = 8,040.56 → ₩8,041 (twice) and of 100,508 = 8,040.64 → ₩8,041
    assert with_freight.duty_krw == 3 * 8_041
    # VAT (100,507 + 8,041) × 10% = 10,854.8 → ₩10,855 (twice); (100,508 + 8,041) = 10,854.9
    assert with_freight.vat_krw == 3 * 10_855


def test_amounts_round_half_up_to_whole_won():
    cosmetics = CustomsLine("cream", D("200.10"), D("0.065"), description="Face cream")

    assessment = customs_assess(lines=[cosmetics], freight_krw=6_000, customs_rate=D("1000"))

    # 200.10 × 1,000 + 6,000 = ₩206,100; duty 6.5% = 13,396.5 → ₩13,397 (half up);
    # VAT (206,100 + 13,397) × 10% = 21,949.7 → ₩21,950
    assert (assessment.customs_value_krw, assessment.duty_krw, assessment.vat_krw) == (
        206_100,
        13_397,
        21_950,
    )


def test_no_cross_border_lines_means_no_fees():
    assessment = customs_assess(lines=[], freight_krw=0, customs_rate=RATE)

    assert assessment.duty_free is True
    assert assessment.import_fees_krw == 0
    assert duty_free_limit_usd([]) == D("150")


def test_limits_come_from_settings(settings):
    settings.CUSTOMS_DUTY_FREE_LIMIT_USD = D("100")
    settings.CUSTOMS_LIST_CLEARANCE_LIMIT_USD = D("120")

    assert customs_assess(lines=[toys("120.00")], freight_krw=0, customs_rate=RATE).duty_free
    assert not customs_assess(
        lines=[supplements("100.01")], freight_krw=0, customs_rate=RATE
    ).duty_free


# --- Customs: what the shopper is told -----------------------------------------------------


@pytest.mark.parametrize("language", ["en", "ko"])
def test_the_explanation_names_the_limit_and_the_items_that_cannot_be_list_cleared(language):
    with translation.override(language):
        taxed = customs_assess(
            lines=[clothing("140.00"), supplements("30.00"), toys("1.00", "lego")],
            freight_krw=6_000,
            customs_rate=RATE,
        )
        free = customs_assess(lines=[clothing("120.00")], freight_krw=6_000, customs_rate=RATE)

    assert "150.00" in taxed.explanation
    assert "171.00" in taxed.explanation
    assert "Vitamin D3" in taxed.explanation
    assert "T-shirt" not in taxed.explanation  # only the items that force the lower limit
    assert "LEGO set" not in taxed.explanation
    assert "200.00" in free.explanation
    assert "120.00" in free.explanation


def test_the_explanation_in_english_says_why():
    with translation.override("en"):
        taxed = customs_assess(lines=[supplements("150.01")], freight_krw=6_000, customs_rate=RATE)
        free = customs_assess(lines=[supplements("150.00")], freight_krw=6_000, customs_rate=RATE)

    assert "over the USD 150.00 duty-free limit" in taxed.explanation
    assert "cannot be list-cleared: Vitamin D3" in taxed.explanation
    assert "within the USD 150.00 duty-free limit" in free.explanation


# --- The seeded customs classes agree with DOMAIN.md ---------------------------------------


def _line_for(code: str, usd: str) -> CustomsLine:
    customs_class = CustomsClass.objects.get(code=code)
    return CustomsLine(
        code,
        D(usd),
        customs_class.duty_rate,
        vat_applies=customs_class.vat_applies,
        list_clearance=customs_class.list_clearance,
        description=customs_class.name,
    )


@pytest.mark.django_db
def test_seeded_classes_price_books_clothing_and_supplements_as_domain_says(customs_seed):
    book = customs_assess(lines=[_line_for("books", "250.00")], freight_krw=0, customs_rate=RATE)
    shirt = customs_assess(
        lines=[_line_for("clothing", "250.00")], freight_krw=0, customs_rate=RATE
    )
    vitamins = customs_assess(
        lines=[_line_for("supplements", "160.00")], freight_krw=0, customs_rate=RATE
    )
    sunscreen_limit = duty_free_limit_usd([_line_for("functional_cosmetics", "1.00")])

    # 250 × 1,388.20 = ₩347,050
    assert (book.duty_krw, book.vat_krw) == (0, 0)
    # 13%: 45,116.5 → ₩45,117; VAT (347,050 + 45,117) × 10% = 39,216.7 → ₩39,217
    assert (shirt.duty_krw, shirt.vat_krw) == (45_117, 39_217)
    # supplements are not list-cleared: USD 160 is over their USD 150 limit
    assert vitamins.duty_free_limit_usd == D("150")
    assert vitamins.duty_free is False
    assert sunscreen_limit == D("150")


def test_freight_shares_stay_within_one_won_of_their_exact_part():
    values = ["0.01", "199.99", "3.33", "47.10", "0.02", "88.88"]
    lines = [toys(value, f"l{i}") for i, value in enumerate(values)]
    freight = 7_777
    result = customs_assess(lines=lines, freight_krw=freight, customs_rate=RATE)
    total = sum(Decimal(v) for v in values)
    shares = [
        a.customs_value_krw - _whole(Decimal(v) * RATE)
        for a, v in zip(result.lines, values, strict=True)
    ]
    assert sum(shares) == freight
    for share, value in zip(shares, values, strict=True):
        assert share >= 0
        assert abs(share - Decimal(freight) * Decimal(value) / total) <= 1


def _whole(amount: Decimal) -> int:
    from decimal import ROUND_HALF_UP

    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))
