"""The real Amazon samples (../shared/data/amazon/): every row is imported or skipped with
a reason, the report agrees with the database, and a second run changes nothing."""

import csv
import re
from collections import Counter
from decimal import Decimal

import pytest

from catalog.models import Category, Product
from catalog.services.feed_import import feed_import

pytestmark = pytest.mark.django_db

PRODUCTS_2023 = "amazon-us-2023-products.csv"
PROMPTCLOUD_2020 = "amazon-us-2020-promptcloud.csv"


def asin_at(file: str, line: int) -> str:
    """The ASIN of the record starting on a physical line (both samples have one-line rows)."""
    with open(file, newline="", encoding="utf-8") as opened:
        for number, text in enumerate(opened, start=1):
            if number == line:
                fields = next(csv.reader([text]))
                return fields[0] if "2023" in file else re.search(r"/dp/(\w{10})", text).group(1)
    raise AssertionError(f"{file} has no line {line}")


def data_rows(path) -> int:
    with path.open(newline="", encoding="utf-8") as file:
        return sum(1 for _ in csv.reader(file)) - 1


def test_both_real_files_import_completely_and_a_second_run_changes_nothing(
    amazon_sample_dir, customs_seed
):
    paths = [amazon_sample_dir / PRODUCTS_2023, amazon_sample_dir / PROMPTCLOUD_2020]
    total_rows = sum(data_rows(path) for path in paths)

    # The categories file is not given: it is found next to the 2023 products file.
    report = feed_import(paths=paths)

    assert report.created + report.skipped == total_rows == report.rows
    assert (report.updated, report.unchanged) == (0, 0)
    assert Product.objects.count() == report.created
    assert report.skipped == len(report.skipped_rows) == report.as_dict()["skipped"]
    assert all(row.reason and row.line > 1 for row in report.skipped_rows)
    assert {row.file for row in report.skipped_rows} <= {str(path) for path in paths}
    # A skipped line really is the row whose product is missing.
    skipped_asins = {asin_at(row.file, row.line) for row in report.skipped_rows}
    assert len(skipped_asins) == report.skipped
    assert not Product.objects.filter(asin__in=skipped_asins).exists()
    # Most rows are fine; what is skipped is skipped for a price the feed does not give.
    assert report.created > 0.95 * total_rows
    reasons = Counter(row.reason.split(" (")[0] for row in report.skipped_rows)
    assert set(reasons) <= {"price is 0.0", "missing price"}
    by_source = Counter(Product.objects.values_list("source", flat=True))
    assert set(by_source) == {Product.Source.AMAZON_2023, Product.Source.PROMPTCLOUD_2020}
    assert Category.objects.find_problems() == ([], [], [], [], [])
    # No imported product lacks a price, a weight or a customs class.
    assert not Product.objects.filter(source_price_usd__lte=0).exists()
    assert not Product.objects.filter(weight_kg__lte=0).exists()
    # The 2023 file has no weights at all; the 2020 file has most.
    assert not Product.objects.filter(source="amazon_2023", weight_estimated=False).exists()
    assert Product.objects.filter(source="promptcloud_2020", weight_estimated=False).count() > 1000

    before = dict(Product.objects.values_list("asin", "updated_at"))
    again = feed_import(paths=paths)

    assert (again.created, again.updated, again.unchanged) == (0, 0, report.created)
    assert again.skipped_rows == report.skipped_rows
    assert dict(Product.objects.values_list("asin", "updated_at")) == before


def test_real_promptcloud_rows_come_out_right(amazon_sample_dir, customs_seed):
    feed_import(paths=[amazon_sample_dir / PROMPTCLOUD_2020])

    longboard = Product.objects.get(asin="B07KMVJJK7")
    assert longboard.source_price_usd == Decimal("237.68")
    assert (longboard.weight_kg, longboard.weight_estimated) == (Decimal("4.853"), False)
    assert len(longboard.image_urls) == 4  # the transparent pixel is gone
    assert not any("transparent-pixel" in url for url in longboard.image_urls)
    assert longboard.bullet_points[0].startswith("RESPONSIVE FLEX:")
    assert longboard.category.source_path.startswith("Sports & Outdoors | Outdoor Recreation")

    # "$74.99 - $249.99": the lower bound; no Shipping Weight: estimated.
    bike = Product.objects.get(asin="B001JEPXUS")
    assert bike.source_price_usd == Decimal("74.99")
    assert bike.weight_estimated is True
    assert bike.customs_class.code == "toys"
    assert bike.weight_kg == bike.customs_class.typical_weight_kg
    # "$6.94 $ 6 . 94" and "$ 19 99 $39.95 …css…"
    assert Product.objects.get(asin="B07PMTQCCY").source_price_usd == Decimal("6.94")
    assert Product.objects.get(asin="B0793GS8NL").source_price_usd == Decimal("19.99")
    # Blank Category: no category, the "other" customs class.
    no_category = Product.objects.get(asin="B07PF1R8LS")
    assert no_category.category is None
    assert no_category.customs_class.code == "other"


def test_real_2023_rows_come_out_right(amazon_sample_dir, customs_seed):
    feed_import(paths=[amazon_sample_dir / PRODUCTS_2023])

    game = Product.objects.get(asin="B0BBSF2MBJ")
    assert game.title == "Jitsu Squad (PS5)"
    assert game.source_price_usd == Decimal("39.82")
    assert game.list_price_usd is None  # listPrice 0.0
    assert game.rating == Decimal("4.5")
    assert game.category.source_path == "Video Games | PlayStation 5 Consoles, Games & Accessories"
    assert game.source_url == "https://www.amazon.com/dp/B0BBSF2MBJ"
    assert game.weight_estimated is True
    assert not Product.objects.filter(rating=0).exists()
    # Each category of the file sits under a department, not at the root.
    roots = set(Category.objects.filter(depth=1).values_list("name", flat=True))
    assert "Men's Shoes" not in roots
    assert {"Clothing, Shoes & Jewelry", "Toys & Games", "Computers"} <= roots
