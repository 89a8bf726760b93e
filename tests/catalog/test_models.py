from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from catalog.models import Category, CustomsClass, CustomsClassRule
from tests.factories import CategoryFactory, ProductFactory, StockFactory

pytestmark = pytest.mark.django_db


def test_migration_seeds_customs_classes_from_domain_rates():
    rates = dict(CustomsClass.objects.values_list("code", "duty_rate"))
    assert rates["clothing"] == Decimal("0.13")
    assert rates["cosmetics"] == Decimal("0.065")
    assert rates["computers"] == Decimal("0")
    assert rates["other"] == Decimal("0.08")
    books = CustomsClass.objects.get(code="books")
    assert (books.duty_rate, books.vat_applies) == (Decimal("0"), False)
    assert not CustomsClass.objects.get(code="supplements").list_clearance
    assert CustomsClassRule.objects.filter(customs_class__code="shoes").exists()


def test_category_tree_children_share_the_parent_path():
    toys = CategoryFactory(name="Toys & Games", slug="toys")
    puzzles = CategoryFactory(name="Puzzles", slug="puzzles", parent=toys)
    assert puzzles.source_path == "Toys & Games | Puzzles"
    assert puzzles.path.startswith(toys.path)
    assert list(Category.objects.get_children(toys)) == [puzzles]


@pytest.mark.parametrize(
    ("field", "value"),
    [("source_price_usd", Decimal("0")), ("weight_kg", Decimal("0")), ("asin", "SHORT")],
)
def test_product_constraints_refuse_invalid_rows(field, value):
    with pytest.raises(IntegrityError), transaction.atomic():
        ProductFactory(**{field: value})


def test_stock_cannot_allocate_more_than_on_hand():
    with pytest.raises(IntegrityError), transaction.atomic():
        StockFactory(on_hand=3, allocated=4)
