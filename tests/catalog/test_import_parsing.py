"""Units of the feed importer that need no database: prices, weights, ASINs, the 2023
department table and how a PromptCloud 2020 record becomes a product row."""

import csv
from decimal import Decimal

import pytest

from catalog.importing import parsing
from catalog.importing.departments import DEPARTMENT_BY_NAME, category_path_for_name
from catalog.importing.errors import RowRejected
from catalog.importing.layouts import (
    AMAZON_2023,
    AMAZON_2023_CATEGORIES,
    PROMPTCLOUD_2020,
    amazon_2023_row,
    layout_detect,
    layout_mismatch,
    promptcloud_2020_row,
)

# -- prices ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$237.68", "237.68"),
        ("$74.99 - $249.99", "74.99"),
        ("$895.00 - $2,497.50", "895.00"),
        ("$6.94 $ 6 . 94", "6.94"),
        (
            "$ 19 99 $39.95 #listPriceLegalMessageText { margin-left: 4px !important; } "
            "#listPriceLegalMessage .a-popover-trigger:hover { text-decoration: none; }",
            "19.99",
        ),
        ("$1,299.00", "1299.00"),
        ("  $12.5 ", "12.50"),
        ("49.99", "49.99"),
    ],
)
def test_listing_price_reads_every_shape_of_the_2020_feed(text, expected):
    assert parsing.price_listing(text) == Decimal(expected)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "missing price"),
        ("   ", "missing price"),
        ("Total price:", "missing price ('Total price:' has no amount)"),
        ("$0.00", "price '$0.00' is not above $0.00"),
        ("call 555-0199 $", "unparseable price 'call 555-0199 $'"),
    ],
)
def test_listing_price_refuses_what_is_no_price_with_the_reason(text, reason):
    with pytest.raises(RowRejected) as refused:
        parsing.price_listing(text)
    assert refused.value.reason == reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [("39.82", "39.82"), ("0.0", "0.00"), ("1,299.00", "1299.00"), ("7", "7.00"), ("", None)],
)
def test_plain_price(text, expected):
    assert parsing.price_plain(text) == (Decimal(expected) if expected else None)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("abc", "unparseable price 'abc'"),
        ("-3.50", "negative price '-3.50'"),
        ("123456789.00", "price '123456789.00' is out of range"),
    ],
)
def test_plain_price_refuses_junk(text, reason):
    with pytest.raises(RowRejected) as refused:
        parsing.price_plain(text)
    assert refused.value.reason == reason


# -- weights -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kg"),
    [
        ("10.7 pounds", "4.853"),  # 10.7 × 0.45359237
        ("1 pounds", "0.454"),
        ("12.8 ounces", "0.363"),  # 12.8 × 0.028349523125
        ("0.32 ounces", "0.009"),
        ("5 lbs", "2.268"),
        ("1.2 kg", "1.200"),
        ("350 g", "0.350"),
        ("1,200 grams", "1.200"),
        ("4 pounds (View shipping rates and policies)", "1.814"),
        ("0.01 ounces", "0.001"),  # a real item never weighs 0.000
    ],
)
def test_weight_converts_to_kilograms_rounded_to_grams(text, kg):
    assert parsing.weight_kg(text) == Decimal(kg)


@pytest.mark.parametrize("text", ["", "   ", "heavy", "0 pounds", "12 parsecs", "900000 kg"])
def test_weight_that_cannot_be_read_is_none_so_it_gets_estimated(text):
    assert parsing.weight_kg(text) is None


# -- other values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("4.5", "4.5"), ("4.55", "4.6"), ("0.0", None), ("0", None), ("", None), ("7", None)],
)
def test_rating_zero_means_not_rated(text, expected):
    assert parsing.rating(text) == (Decimal(expected) if expected else None)


def test_asin_is_upper_cased_and_checked():
    assert parsing.asin_clean(" b07kmvjjk7 ") == "B07KMVJJK7"
    with pytest.raises(RowRejected, match=r"^missing ASIN$"):
        parsing.asin_clean("  ")
    with pytest.raises(RowRejected, match="invalid ASIN 'B07-KMV' "):
        parsing.asin_clean("B07-KMV")


def test_asin_is_found_in_product_urls():
    url = "https://www.amazon.com/DB-Longboards-CoreFlex-Fiberglass-Longboard/dp/B07KMVJJK7"
    assert parsing.asin_find(url) == "B07KMVJJK7"
    assert parsing.asin_find("https://www.amazon.com/gp/product/b008ak6das?th=1") == "B008AK6DAS"
    assert parsing.asin_find("https://www.amazon.com/s?k=lego") is None


def test_counts_and_flags():
    assert parsing.count("1,234") == 1234
    assert parsing.count("") == 0
    assert parsing.count("-5") == 0
    assert parsing.count("99999999999") == parsing.COUNT_MAX
    assert parsing.flag("True") is True
    assert parsing.flag("False") is False


# -- 2023 departments ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("Men's Shoes", "Clothing, Shoes & Jewelry | Men's Shoes"),
        ("Makeup", "Beauty & Personal Care | Makeup"),
        ("Computer Monitors", "Computers | Computer Monitors"),
        ("Kids' Electronics", "Toys & Games | Kids' Electronics"),
        ("Suitcases", "Luggage & Travel Gear | Suitcases"),
        ("Toys & Games", "Toys & Games"),  # a department is its own node
        ("Baby", "Baby Products"),
        ("Gift Cards", "Gift Cards"),
        ("Toys & Games |  Puzzles ", "Toys & Games | Puzzles"),  # already a path
        ("Zebra Grooming Kits", "Zebra Grooming Kits"),  # unknown: a root of its own
    ],
)
def test_2023_category_names_go_under_their_department(name, path):
    assert category_path_for_name(name) == path


def test_every_2023_category_name_of_the_real_sample_has_a_department(amazon_sample_dir):
    with (amazon_sample_dir / "amazon-us-2023-categories.csv").open(encoding="utf-8") as file:
        names = [row["category_name"] for row in csv.DictReader(file)]
    assert len(names) == 248
    unplaced = [
        name for name in names if name != "Baby" and name.casefold() not in DEPARTMENT_BY_NAME
    ]
    assert unplaced == []


# -- layouts -------------------------------------------------------------------------------


def test_layouts_are_recognised_by_their_header():
    assert layout_detect(list(AMAZON_2023.columns)) is AMAZON_2023
    assert layout_detect(["id", "category_name"]) is AMAZON_2023_CATEGORIES
    assert layout_detect([" Uniq Id ", *PROMPTCLOUD_2020.columns[1:], "Extra"]) is PROMPTCLOUD_2020
    assert layout_detect(["sku", "name", "price"]) is None


def test_an_almost_known_header_names_the_missing_columns():
    header = [column for column in AMAZON_2023.columns if column != "price"]
    assert layout_mismatch(header) == (
        "unknown layout: the header looks like Amazon Products Dataset 2023 (products) "
        "but lacks the column(s) price"
    )
    assert "matches none of" in layout_mismatch(["sku", "name"])


def test_a_2023_record_becomes_a_product_row():
    header = list(AMAZON_2023.columns)
    parse = amazon_2023_row(header, categories={"261": "Video Games | PS5"})
    row = parse(
        [
            "b0bbsf2mbj",
            " Jitsu  Squad (PS5) ",
            "https://m.media-amazon.com/images/I/71PfBB-k18L._AC_UY218_.jpg",
            "https://www.amazon.com/dp/B0BBSF2MBJ",
            "0.0",
            "0",
            "39.82",
            "0.0",
            "261",
            "True",
            "50",
        ]
    )
    assert row.asin == "B0BBSF2MBJ"
    assert row.title == "Jitsu Squad (PS5)"
    assert row.price_usd == Decimal("39.82")
    assert row.list_price_usd is None  # listPrice 0 = none
    assert row.rating is None  # stars 0 without reviews = not rated
    assert row.image_urls == ("https://m.media-amazon.com/images/I/71PfBB-k18L._AC_UY218_.jpg",)
    assert row.source_url == "https://www.amazon.com/dp/B0BBSF2MBJ"
    assert row.category_path == "Video Games | PS5"
    assert (row.is_best_seller, row.bought_last_month, row.weight_kg) == (True, 50, None)


def _promptcloud_record(**values: str) -> tuple[list[str], list[str]]:
    header = list(PROMPTCLOUD_2020.columns)
    return header, [values.get(column, "") for column in header]


def test_a_promptcloud_record_loses_its_page_furniture():
    header, fields = _promptcloud_record(
        **{
            "Product Name": "Snap Circuits Mini Kits Classpack",
            "Category": "Toys & Games | Learning & Education |  Science Kits & Toys",
            "Selling Price": "$99.95",
            "About Product": (
                "Make sure this fits by entering your model number. | Builds an FM radio "
                "| Five kits in one"
            ),
            "Technical Details": (
                "Go to your orders and start the return Select the ship method Ship it! | "
                "4 pounds (View shipping rates and policies) | show up to 2 reviews by default "
                "Product Description The classpack teaches circuits."
            ),
            "Shipping Weight": "4 pounds",
            "Image": (
                "https://images-na.ssl-images-amazon.com/images/I/51M0KnJxjKL.jpg|"
                "https://images-na.ssl-images-amazon.com/images/G/01/x-locale/common/"
                "transparent-pixel.jpg"
            ),
            "Product Url": "https://www.amazon.com/Electronic-Circuits/dp/B008AK6DAS",
        }
    )
    row = promptcloud_2020_row(header)(fields)
    assert row.asin == "B008AK6DAS"
    assert row.bullet_points == ("Builds an FM radio", "Five kits in one")
    assert row.image_urls == ("https://images-na.ssl-images-amazon.com/images/I/51M0KnJxjKL.jpg",)
    assert row.description == "The classpack teaches circuits."
    assert row.weight_kg == Decimal("1.814")
    assert row.category_path == "Toys & Games | Learning & Education | Science Kits & Toys"


def test_a_promptcloud_asin_falls_back_to_the_specification():
    header, fields = _promptcloud_record(
        **{
            "Product Name": "Longboard",
            "Selling Price": "$237.68",
            "Product Specification": "Shipping Weight: 10.7 pounds|ASIN: B07KMVJJK7|#474 in X",
        }
    )
    row = promptcloud_2020_row(header)(fields)
    assert row.asin == "B07KMVJJK7"
    assert row.description == ""  # the specification held only shipping and ranking noise
    assert row.category_path == ""  # blank Category: no category
    assert row.weight_kg is None


def test_a_promptcloud_record_without_any_asin_is_refused():
    header, fields = _promptcloud_record(**{"Product Name": "Mystery", "Selling Price": "$5"})
    with pytest.raises(RowRejected, match=r"^missing ASIN"):
        promptcloud_2020_row(header)(fields)
