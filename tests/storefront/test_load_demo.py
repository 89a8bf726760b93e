"""`manage.py load_demo` (what `make run` loads) and the warehouse/stock seed services."""

from __future__ import annotations

import csv
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db.models import F

from catalog.models import Product
from fulfillment.models import Stock, Warehouse
from fulfillment.services.warehouses import (
    DEMO_WAREHOUSES,
    WarehouseNotFound,
    stock_seed_demo,
    warehouse_ensure,
)
from tests.factories import ProductFactory, WarehouseFactory

pytestmark = pytest.mark.django_db

DEMO_DIR = Path(settings.BASE_DIR) / "catalog" / "demo_data"

DEMO_CODES = [code for code, _, _ in DEMO_WAREHOUSES]
DEMO_SEED = 7  # the seed the shipped demo files were generated with (catalog/demo_data/README.md)


def _demo_asins() -> set[str]:
    with (DEMO_DIR / "demo-products.csv").open(newline="", encoding="utf-8") as handle:
        return {row["asin"] for row in csv.DictReader(handle)}


def _load_demo(**options) -> str:
    out = StringIO()
    call_command("load_demo", stdout=out, **options)
    return out.getvalue()


@pytest.fixture
def no_samples(settings, tmp_path) -> None:
    """Point AMAZON_SAMPLE_DIR at a folder that does not exist."""
    settings.AMAZON_SAMPLE_DIR = tmp_path / "no-samples-here"


def test_shipped_demo_catalog_is_synthetic_and_sizeable():
    asins = _demo_asins()
    assert 200 <= len(asins) <= 1000
    # Fictional products only: the GS prefix keeps them apart from real ASINs (B0..., ISBNs).
    assert all(len(asin) == 10 and asin.startswith("GS") for asin in asins)
    with (DEMO_DIR / "demo-categories.csv").open(newline="", encoding="utf-8") as handle:
        names = [row["category_name"] for row in csv.DictReader(handle)]
    assert all(" | " in name for name in names)
    departments = {name.split(" | ")[0] for name in names}
    assert {"Books", "Toys & Games", "Computers", "Electronics"} <= departments


def test_load_demo_twice_creates_no_duplicates_and_keeps_existing_stock(customs_seed, no_samples):
    first = _load_demo()

    demo_asins = _demo_asins()
    products = set(Product.objects.values_list("asin", flat=True))
    assert products == demo_asins
    assert set(Product.objects.values_list("source", flat=True)) == {Product.Source.DEMO}
    assert sorted(Warehouse.objects.values_list("code", flat=True)) == sorted(DEMO_CODES)
    assert "already loaded" not in first.split("\n")[0]

    stock_count = Stock.objects.count()
    # About a fifth of the catalog, spread over both warehouses, some under the reorder point.
    stocked = Stock.objects.values("product_id").distinct().count()
    assert 0.1 * len(demo_asins) <= stocked <= 0.3 * len(demo_asins)
    for code in DEMO_CODES:
        assert Stock.objects.filter(warehouse__code=code).exists()
    assert Stock.objects.filter(on_hand__lt=F("reorder_point")).exists()
    assert Stock.objects.filter(on_hand__gte=F("reorder_point")).exists()

    # Stock moved since the first run (staff edit, an order) must survive the second run.
    edited = Stock.objects.order_by("id").first()
    Stock.objects.filter(pk=edited.pk).update(on_hand=99, allocated=7)

    second = _load_demo()

    assert Product.objects.count() == len(demo_asins)
    assert Warehouse.objects.count() == len(DEMO_CODES)
    assert Stock.objects.count() == stock_count
    edited.refresh_from_db()
    assert (edited.on_hand, edited.allocated) == (99, 7)
    assert "Demo catalog: already loaded" in second
    assert "Warehouses icn1, pyt1: already there" in second
    assert "Stock for" in second
    assert "already loaded" in second.split("Stock for")[1]


def test_load_demo_imports_the_amazon_samples_when_the_folder_exists(
    customs_seed, settings, tmp_path
):
    (tmp_path / "amazon-us-2023-categories.csv").write_text(
        "id,category_name\n1,Puzzles\n", encoding="utf-8"
    )
    (tmp_path / "amazon-us-2023-products.csv").write_text(
        "asin,title,imgUrl,productURL,stars,reviews,price,listPrice,category_id,"
        "isBestSeller,boughtInLastMonth\n"
        "B0TESTAAA1,Sample puzzle,https://example.com/a.jpg,"
        "https://www.amazon.com/dp/B0TESTAAA1,4.5,10,19.99,0.0,1,False,0\n",
        encoding="utf-8",
    )
    settings.AMAZON_SAMPLE_DIR = tmp_path

    output = _load_demo()

    sample = Product.objects.get(asin="B0TESTAAA1")
    assert sample.source == Product.Source.AMAZON_2023
    assert Product.objects.filter(source=Product.Source.DEMO).count() == len(_demo_asins())
    assert f"Amazon samples ({tmp_path})" in output

    assert "Amazon samples" in _load_demo()
    assert Product.objects.count() == len(_demo_asins()) + 1


def test_load_demo_without_samples_says_where_it_looked(customs_seed, no_samples, settings):
    output = _load_demo()
    assert f"Amazon samples: none at {settings.AMAZON_SAMPLE_DIR}" in output


def test_stock_seed_demo_only_adds_missing_rows():
    warehouse, _ = warehouse_ensure(code="icn1", name="인천 제1센터", priority=10)
    products = ProductFactory.create_batch(60)
    picked_first = stock_seed_demo(warehouse_codes=["icn1"], percent=100)
    assert picked_first.created == len(products)
    assert picked_first.existing == 0

    row = Stock.objects.get(warehouse=warehouse, product=products[0])
    Stock.objects.filter(pk=row.pk).update(on_hand=3, allocated=3, reorder_point=1, target_level=2)
    newcomer = ProductFactory()

    again = stock_seed_demo(warehouse_codes=["icn1"], percent=100)

    assert again.created == 1
    assert again.existing == len(products)
    assert Stock.objects.filter(product=newcomer).count() == 1
    row.refresh_from_db()
    assert (row.on_hand, row.allocated, row.reorder_point, row.target_level) == (3, 3, 1, 2)


def test_stock_seed_demo_picks_a_stable_share_and_skips_inactive_products():
    warehouse_ensure(code="icn1", name="인천 제1센터", priority=10)
    warehouse_ensure(code="pyt1", name="평택 센터", priority=20)
    ProductFactory.create_batch(400)
    inactive = ProductFactory.create_batch(20, is_active=False)

    result = stock_seed_demo(warehouse_codes=DEMO_CODES, percent=20)

    assert 40 <= result.products <= 120  # ~20 % of 400, picked by ASIN hash
    assert Stock.objects.values("product_id").distinct().count() == result.products
    assert not Stock.objects.filter(product__in=inactive).exists()
    assert Stock.objects.filter(allocated__gt=F("on_hand")).count() == 0
    assert Stock.objects.filter(target_level__lt=F("reorder_point")).count() == 0
    picked = set(Stock.objects.values_list("product_id", "warehouse_id"))

    Stock.objects.all().delete()
    stock_seed_demo(warehouse_codes=DEMO_CODES, percent=20)
    assert set(Stock.objects.values_list("product_id", "warehouse_id")) == picked


def test_stock_seed_demo_refuses_unknown_warehouses_and_writes_nothing():
    warehouse_ensure(code="icn1", name="인천 제1센터", priority=10)
    ProductFactory.create_batch(5)

    with pytest.raises(WarehouseNotFound) as excinfo:
        stock_seed_demo(warehouse_codes=["icn1", "nope"], percent=100)

    assert excinfo.value.code == "warehouse_not_found"
    assert not Stock.objects.exists()


def test_warehouse_ensure_keeps_what_staff_changed():
    WarehouseFactory(code="icn1", name="Renamed by staff", priority=5)

    warehouse, created = warehouse_ensure(code="icn1", name="인천 제1센터", priority=10)

    assert created is False
    assert (warehouse.name, warehouse.priority) == ("Renamed by staff", 5)
    assert Warehouse.objects.count() == 1


def test_demo_files_are_reproducible_from_the_generator(tmp_path: Path):
    from bench.synth import write_catalog

    with (DEMO_DIR / "demo-products.csv").open(encoding="utf-8") as handle:
        count = sum(1 for _ in handle) - 1
    files = write_catalog(
        out_dir=tmp_path, count=count, seed=DEMO_SEED, name="demo", asin_prefix="GSDEMO"
    )
    assert files.products.read_bytes() == (DEMO_DIR / "demo-products.csv").read_bytes()
    assert files.categories.read_bytes() == (DEMO_DIR / "demo-categories.csv").read_bytes()
