"""feed_import on feeds written by the tests: damaged rows are skipped with their reasons
and cost nothing else, refused files write nothing, and upserts are exact."""

import csv
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog import selectors
from catalog.importing.layouts import PROMPTCLOUD_2020
from catalog.models import Category, Product
from catalog.services.feed_import import FeedError, SkippedRow, feed_import

pytestmark = pytest.mark.django_db

HEADER_2023 = (
    "asin,title,imgUrl,productURL,stars,reviews,price,listPrice,category_id,isBestSeller,"
    "boughtInLastMonth"
)
CATEGORIES_2023 = "id,category_name\n1,Puzzles\n2,Men's Shoes\n3,Toys & Games | Kids' Electronics\n"
# The real 2020 header: 28 columns, in the feed's order.
HEADER_2020 = [
    "Uniq Id",
    "Product Name",
    "Brand Name",
    "Asin",
    "Category",
    "Upc Ean Code",
    "List Price",
    "Selling Price",
    "Quantity",
    "Model Number",
    "About Product",
    "Product Specification",
    "Technical Details",
    "Shipping Weight",
    "Product Dimensions",
    "Image",
    "Variants",
    "Sku",
    "Product Url",
    "Stock",
    "Product Details",
    "Dimensions",
    "Color",
    "Ingredients",
    "Direction To Use",
    "Is Amazon Seller",
    "Size Quantity Variant",
    "Product Description",
]


def row_2023(asin, *, title="Wooden puzzle, 500 pieces", price="12.99", category="1", **extra):
    values = {
        "imgUrl": f"https://m.media-amazon.com/images/I/{asin}.jpg",
        "productURL": f"https://www.amazon.com/dp/{asin}",
        "stars": "4.5",
        "reviews": "10",
        "listPrice": "0.0",
        "isBestSeller": "False",
        "boughtInLastMonth": "0",
        **extra,
    }
    out = io.StringIO()
    # "\n" as terminator so that csv quotes fields holding line breaks; cut it off after.
    csv.writer(out, lineterminator="\n").writerow(
        [
            asin,
            title,
            values["imgUrl"],
            values["productURL"],
            values["stars"],
            values["reviews"],
            price,
            values["listPrice"],
            category,
            values["isBestSeller"],
            values["boughtInLastMonth"],
        ]
    )
    return out.getvalue()[:-1]


def row_2020(**values):
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(
        [values.get(column, "") for column in HEADER_2020]
    )
    return out.getvalue()[:-1]


def write(path, lines, *, header=HEADER_2023):
    content = "\n".join([header, *lines]) + "\n"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


@pytest.fixture
def feed_dir(tmp_path, customs_seed):
    """A folder with the 2023 categories file next to where the products file goes."""
    (tmp_path / "categories.csv").write_text(CATEGORIES_2023, encoding="utf-8")
    return tmp_path


def asins():
    return set(Product.objects.values_list("asin", flat=True))


def test_damaged_rows_are_skipped_with_their_reasons_and_cost_nothing_else(feed_dir):
    path = feed_dir / "products.csv"
    lines = [
        row_2023("B000000001"),  # 2
        row_2023("B000000003", price="abc"),  # 3
        row_2023("B000000004", price="0.0"),  # 4
        row_2023(""),  # 5
        row_2023("B00-BAD"),  # 6
        row_2023("B000000007", title="  "),  # 7
        row_2023("B000000008") + ",surplus",  # 8
        # 9: a quote that never closes
        'B000000009,"Broken title,https://x/9.jpg,https://www.amazon.com/dp/B000000009,'
        "4,1,9.99,0,1,False,0",
        row_2023("B000000010", title='A "quoted", titled puzzle'),  # 10
        row_2023("B000000001", price="15.00"),  # 11: same ASIN as line 2
        row_2023("B000000012", title="Caf\udce9 puzzle"),  # 12: not UTF-8 (written below)
        row_2023("B000000013", title="Two\nlines"),  # 13-14
        row_2023("B000000015"),  # 15
    ]
    content = ("\n".join([HEADER_2023, *lines]) + "\n").encode("utf-8", "surrogateescape")
    path.write_bytes(content)

    report = feed_import(paths=[path])

    name = str(path)
    assert report.skipped_rows[:7] == [
        SkippedRow(name, 3, "unparseable price 'abc'"),
        SkippedRow(name, 4, "price is 0.0 (0 means unknown in this feed)"),
        SkippedRow(name, 5, "missing ASIN"),
        SkippedRow(name, 6, "invalid ASIN 'B00-BAD' (expected 10 letters or digits)"),
        SkippedRow(name, 7, "missing title"),
        SkippedRow(name, 8, "malformed CSV: expected 11 fields, found 12"),
        SkippedRow(name, 9, report.skipped_rows[6].reason),
    ]
    assert report.skipped_rows[6].reason.startswith("unterminated quoted field")
    assert report.skipped_rows[7:] == [
        SkippedRow(name, 11, f"duplicate ASIN B000000001, first seen at {name}:2"),
        SkippedRow(
            name,
            12,
            "undecodable bytes: line 12 is not valid UTF-8 (byte 0xe9 at position 15)",
        ),
    ]
    assert (report.created, report.updated, report.unchanged, report.skipped) == (4, 0, 0, 9)
    assert asins() == {"B000000001", "B000000010", "B000000013", "B000000015"}
    # The first of the duplicated ASIN is kept as it was.
    assert Product.objects.get(asin="B000000001").source_price_usd == Decimal("12.99")
    assert Product.objects.get(asin="B000000010").title == 'A "quoted", titled puzzle'
    assert Product.objects.get(asin="B000000013").title == "Two lines"


def test_promptcloud_rows_are_imported_or_skipped_with_reasons(customs_seed, tmp_path):
    url = "https://www.amazon.com/Some-Product/dp/{}"
    lines = [
        row_2020(
            **{
                "Product Name": "Longboard",
                "Selling Price": "$237.68",
                "Category": "Sports & Outdoors | Skateboarding",
                "Shipping Weight": "10.7 pounds",
                "Product Url": url.format("B07KMVJJK7"),
            }
        ),
        row_2020(
            **{
                "Product Name": "Bike",
                "Selling Price": "Total price:",
                "Product Url": url.format("B001JEPXU1"),
            }
        ),
        row_2020(
            **{"Product Name": "Doll", "Selling Price": "", "Product Url": url.format("B001JEPXU2")}
        ),
        row_2020(**{"Product Name": "Mystery", "Selling Price": "$5.00"}),
        row_2020(
            **{
                "Product Name": "Dinosaurs",
                "Selling Price": "$22.50 - $49.88",
                "Product Specification": "ASIN: B07PF1R8LS|Item model number: AN4054Z",
            }
        ),
    ]
    path = write(tmp_path / "promptcloud.csv", lines, header=",".join(HEADER_2020))

    report = feed_import(paths=[path])

    assert [(row.line, row.reason) for row in report.skipped_rows] == [
        (3, "missing price ('Total price:' has no amount)"),
        (4, "missing price"),
        (5, "missing ASIN (none in Asin, Product Url or Product Specification)"),
    ]
    assert (report.created, report.skipped) == (2, 3)
    longboard = Product.objects.get(asin="B07KMVJJK7")
    assert (longboard.weight_kg, longboard.weight_estimated) == (Decimal("4.853"), False)
    assert longboard.source == Product.Source.PROMPTCLOUD_2020
    assert longboard.category.source_path == "Sports & Outdoors | Skateboarding"
    dinosaurs = Product.objects.get(asin="B07PF1R8LS")
    assert dinosaurs.source_price_usd == Decimal("22.50")
    assert dinosaurs.category is None  # blank Category
    assert dinosaurs.customs_class.code == "other"
    assert (dinosaurs.weight_kg, dinosaurs.weight_estimated) == (Decimal("1.000"), True)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file (no header line)"),
        (b"sku,name,price\nX1,Thing,3.00\n", "unknown layout: the header 'sku,name,price'"),
        (
            HEADER_2023.replace(",price,", ",cost,").encode() + b"\n",
            "looks like Amazon Products Dataset 2023 (products) but lacks the column(s) price",
        ),
    ],
)
def test_a_refused_file_stops_the_whole_import_before_anything_is_written(
    feed_dir, content, message
):
    good = write(feed_dir / "products.csv", [row_2023("B000000001")])
    bad = feed_dir / "bad.csv"
    bad.write_bytes(content)

    with pytest.raises(FeedError) as refused:
        feed_import(paths=[good, bad])

    assert refused.value.message.startswith(f"{bad}: ")
    assert message in refused.value.message
    assert Product.objects.count() == 0
    assert Category.objects.count() == 0


def test_a_missing_file_is_refused(feed_dir):
    good = write(feed_dir / "products.csv", [row_2023("B000000001")])
    with pytest.raises(FeedError, match=r"nope\.csv: no such file"):
        feed_import(paths=[good, feed_dir / "nope.csv"])
    assert Product.objects.count() == 0


def test_a_2023_products_file_without_its_categories_is_refused(tmp_path, customs_seed):
    path = write(tmp_path / "products.csv", [row_2023("B000000001")])
    with pytest.raises(FeedError, match="needs its categories file"):
        feed_import(paths=[path])
    assert Product.objects.count() == 0


def test_the_categories_file_is_found_next_to_the_products_file(tmp_path, customs_seed):
    (tmp_path / "notes.csv").write_text("note,text\n1,hello\n", encoding="utf-8")
    (tmp_path / "my-category-names.csv").write_text(CATEGORIES_2023, encoding="utf-8")
    path = write(tmp_path / "products.csv", [row_2023("B000000001", category="2")])

    report = feed_import(paths=[path])

    assert report.created == 1
    shoe = Product.objects.get(asin="B000000001")
    assert shoe.category.source_path == "Clothing, Shoes & Jewelry | Men's Shoes"
    assert shoe.customs_class.code == "shoes"


def test_a_categories_file_given_among_the_paths_is_used(tmp_path, customs_seed):
    products_dir = tmp_path / "products"
    products_dir.mkdir()
    categories = tmp_path / "elsewhere.csv"
    categories.write_text("id,category_name\n7,Toys & Games | Puzzles\n", encoding="utf-8")
    path = write(products_dir / "products.csv", [row_2023("B000000001", category="7")])

    feed_import(paths=[path, categories])

    assert Product.objects.get().category.source_path == "Toys & Games | Puzzles"


def test_the_same_asin_in_two_files_keeps_the_first(feed_dir):
    first = write(feed_dir / "products.csv", [row_2023("B000000001"), row_2023("B000000002")])
    second = write(
        feed_dir / "promptcloud.csv",
        [
            row_2020(
                **{
                    "Product Name": "Again",
                    "Selling Price": "$1.00",
                    "Product Url": "https://www.amazon.com/x/dp/B000000002",
                }
            ),
        ],
        header=",".join(HEADER_2020),
    )

    report = feed_import(paths=[first, second])

    assert report.skipped_rows == [
        SkippedRow(str(second), 2, f"duplicate ASIN B000000002, first seen at {first}:3")
    ]
    assert Product.objects.get(asin="B000000002").source == Product.Source.AMAZON_2023


def test_a_second_run_changes_nothing_and_a_changed_row_is_updated(feed_dir):
    path = write(
        feed_dir / "products.csv",
        [row_2023("B000000001"), row_2023("B000000002"), row_2023("B000000003")],
    )
    feed_import(paths=[path])
    before = {p.asin: p for p in Product.objects.all()}

    again = feed_import(paths=[path])
    assert (again.created, again.updated, again.unchanged, again.skipped) == (0, 0, 3, 0)
    assert {p.asin: p.updated_at for p in Product.objects.all()} == {
        asin: product.updated_at for asin, product in before.items()
    }

    # Staff switched one off; the feed then changes its price.
    Product.objects.filter(asin="B000000002").update(is_active=False)
    write(
        path,
        [row_2023("B000000001"), row_2023("B000000002", price="14.50"), row_2023("B000000003")],
    )
    changed = feed_import(paths=[path])

    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 2)
    updated = Product.objects.get(asin="B000000002")
    assert updated.source_price_usd == Decimal("14.50")
    assert updated.is_active is False  # the import never switches a product back on
    assert updated.updated_at > before["B000000002"].updated_at
    assert updated.created_at == before["B000000002"].created_at
    assert Product.objects.get(asin="B000000001").updated_at == before["B000000001"].updated_at


def test_missing_weights_are_estimated_from_the_category_then_the_customs_class(feed_dir):
    path = write(feed_dir / "products.csv", [row_2023("B000000001", category="1")])
    feed_import(paths=[path])
    puzzle = Product.objects.get()
    # "Toys & Games | Puzzles" is a toy: the toys class's typical weight.
    assert (puzzle.customs_class.code, puzzle.weight_kg, puzzle.weight_estimated) == (
        "toys",
        Decimal("0.800"),
        True,
    )

    Category.objects.filter(source_path="Toys & Games").update(typical_weight_kg=Decimal("2.5"))
    report = feed_import(paths=[path])

    assert report.updated == 1
    puzzle.refresh_from_db()
    assert (puzzle.weight_kg, puzzle.weight_estimated) == (Decimal("2.500"), True)


def test_source_can_be_overridden_and_must_be_known(feed_dir):
    path = write(feed_dir / "products.csv", [row_2023("B000000001")])
    with pytest.raises(FeedError, match="Unknown product source 'mars'"):
        feed_import(paths=[path], source="mars")
    assert Product.objects.count() == 0

    feed_import(paths=[path], source="demo")
    assert Product.objects.get().source == Product.Source.DEMO


def test_the_category_menu_cache_is_cleared_after_an_import(feed_dir):
    assert selectors.category_roots() == []  # now cached
    feed_import(paths=[write(feed_dir / "products.csv", [row_2023("B000000001")])])
    assert [root.name for root in selectors.category_roots()] == ["Toys & Games"]


def test_queries_do_not_grow_with_the_number_of_rows(feed_dir):
    def feed(name, start, count):
        rows = [row_2023(f"B{n:09d}", category=str(1 + n % 3)) for n in range(start, start + count)]
        return write(feed_dir / name, rows)

    feed_import(paths=[feed("warmup.csv", 0, 3)])  # the categories exist from here on
    with CaptureQueriesContext(connection) as few:
        assert feed_import(paths=[feed("few.csv", 100, 10)]).created == 10
    with CaptureQueriesContext(connection) as many:
        assert feed_import(paths=[feed("many.csv", 1000, 900)]).created == 900

    def reads(context):
        return [query for query in context.captured_queries if query["sql"].startswith("SELECT")]

    def inserts(context):
        return [query for query in context.captured_queries if query["sql"].startswith("INSERT")]

    assert len(reads(many)) == len(reads(few))
    # Inserts come in batches as large as the backend takes (SQLite: 999 parameters).
    assert len(inserts(many)) <= 900 / 40


def test_progress_goes_to_stderr_only_when_asked(feed_dir, capsys):
    path = write(feed_dir / "products.csv", [row_2023("B000000001")])
    feed_import(paths=[path], progress=False)
    assert capsys.readouterr().err == ""

    feed_import(paths=[path], progress=True)
    captured = capsys.readouterr()
    assert "products.csv" in captured.err
    assert "100%" in captured.err
    assert captured.out == ""


def test_promptcloud_header_of_the_tests_is_the_real_one():
    # The helpers above write the 28 real columns, which include every identifying one.
    assert set(PROMPTCLOUD_2020.columns) <= set(HEADER_2020)
    assert len(HEADER_2020) == 28


def test_a_record_no_check_foresaw_costs_its_row_not_the_import():
    from catalog.importing.errors import RowRejected
    from catalog.services.feed_import import _parse_safely

    def parse(fields):
        return int(fields[0]) // 0

    with pytest.raises(RowRejected) as refused:
        _parse_safely(parse, ["7"])
    assert (
        refused.value.reason
        == "could not be read (ZeroDivisionError: integer division or modulo by zero)"
    )
