"""The category tree as imports build it, and the staff-edited customs mapping."""

from decimal import Decimal

import pytest

from catalog.models import Category, CustomsClass, CustomsClassRule
from catalog.services.categories import (
    CategoryTree,
    CustomsMapping,
    CustomsSetupMissing,
    category_get_or_create,
    customs_class_for_path,
)
from tests.factories import CategoryFactory

pytestmark = pytest.mark.django_db


# -- customs mapping -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("Clothing, Shoes & Jewelry | Men | Shoes", "shoes"),
        ("Clothing, Shoes & Jewelry | Men | Shoes | Boots", "shoes"),
        # The department names clothing *and* shoes: the deeper level decides.
        ("Clothing, Shoes & Jewelry | Men | Clothing | Shirts", "clothing"),
        ("Clothing, Shoes & Jewelry | Women's Handbags", "bags"),
        ("Toys & Games | Kids' Electronics", "toys"),
        ("Toys & Games | Kids’ Electronics", "toys"),  # typographic apostrophe
        ("Toys & Games | Puzzles", "toys"),
        ("Electronics | Headphones & Earbuds", "electronics"),
        ("Electronics | Cell Phones & Accessories", "computers"),
        ("Beauty & Personal Care | Makeup", "cosmetics"),
        ("Beauty & Personal Care | Sun Care | Sunscreen", "functional_cosmetics"),
        ("Clothing, Shoes & Jewelry | Women's Jewelry", "other"),
        ("Clothing, Shoes & Jewelry | Men's Accessories", "other"),
        ("Clothing, Shoes & Jewelry", "clothing"),
        ("Computers | Laptop Accessories", "computers"),
        ("Toys & Games | Games & Accessories", "toys"),
        ("Health & Household | Vitamins & Dietary Supplements", "supplements"),
        ("Grocery & Gourmet Food | Coffee", "foods"),
        ("Books | Cookbooks", "books"),
        ("Home & Kitchen | Bedding", "other"),
        ("Home & Kitchen | Computerized Sewing Machines", "other"),  # whole words only
        ("", "other"),
        ("Zebra Grooming Kits", "other"),
    ],
)
def test_source_category_paths_map_to_customs_classes(customs_seed, path, code):
    assert CustomsMapping.load().class_for_path(path).code == code


def test_a_staff_edited_rule_changes_the_outcome(customs_seed):
    path = "Clothing, Shoes & Jewelry | Women's Jewelry"
    assert customs_class_for_path(path=path).code == "other"

    CustomsClassRule.objects.filter(pattern="Jewelry").update(
        customs_class=CustomsClass.objects.get(code="watches")
    )
    assert customs_class_for_path(path=path).code == "watches"

    # Without a rule for its own level, the department's rule decides.
    CustomsClassRule.objects.filter(pattern="Jewelry").delete()
    assert customs_class_for_path(path=path).code == "clothing"


def test_the_deepest_matching_level_decides_over_the_department(customs_seed):
    # "Toys & Games" (90) matches the department, "Electronics" (80) the sub-category:
    # without the "Kids' Electronics" rule the sub-category's own words decide.
    CustomsClassRule.objects.filter(pattern="Kids' Electronics").delete()
    path = "Toys & Games | Kids' Electronics"
    assert customs_class_for_path(path=path).code == "electronics"
    CustomsClassRule.objects.filter(pattern="Toys & Games").update(priority=5)
    assert customs_class_for_path(path=path).code == "electronics"


def test_within_a_level_priority_then_pattern_length_decides(customs_seed):
    path = "Electronics | Cell Phones & Accessories"
    assert customs_class_for_path(path=path).code == "computers"
    accessories = CustomsClassRule.objects.create(
        pattern="Accessories", customs_class=CustomsClass.objects.get(code="other"), priority=99
    )
    assert customs_class_for_path(path=path).code == "computers"  # Cell Phones 60 < 99
    accessories.priority = 5
    accessories.save()
    assert customs_class_for_path(path=path).code == "other"

    accessories.delete()
    CustomsClassRule.objects.create(
        pattern="Phones", customs_class=CustomsClass.objects.get(code="electronics"), priority=60
    )
    assert customs_class_for_path(path=path).code == "computers"  # same priority: longer wins


def test_a_multi_level_pattern_is_matched_on_the_whole_path(customs_seed):
    CustomsClassRule.objects.create(
        pattern="Video Games | PlayStation 4",
        customs_class=CustomsClass.objects.get(code="electronics"),
        priority=10,
    )
    assert customs_class_for_path(path="Video Games | PlayStation 4 | Games").code == "electronics"
    assert customs_class_for_path(path="Video Games | Xbox One").code == "other"


def test_rules_are_read_once_per_mapping(customs_seed, django_assert_num_queries):
    with django_assert_num_queries(2):
        mapping = CustomsMapping.load()
    with django_assert_num_queries(0):
        for path in ["Toys & Games | Puzzles", "Books", "Electronics | TV", "Books"]:
            mapping.class_for_path(path)


def test_without_the_other_class_the_mapping_refuses_clearly(customs_seed):
    CustomsClassRule.objects.all().delete()
    CustomsClass.objects.filter(code="other").delete()
    with pytest.raises(CustomsSetupMissing, match=r"run `python manage\.py migrate`"):
        CustomsMapping.load()


# -- category tree ---------------------------------------------------------------------


def test_missing_paths_become_tree_nodes_under_their_parents():
    tree = CategoryTree()
    created = tree.ensure(["Toys & Games | Puzzles | Jigsaw", "Toys & Games | Dolls", "Books"])
    assert created == 5
    toys = Category.objects.get(source_path="Toys & Games")
    puzzles = Category.objects.get(source_path="Toys & Games | Puzzles")
    jigsaw = Category.objects.get(source_path="Toys & Games | Puzzles | Jigsaw")
    assert [root.name for root in Category.objects.get_root_nodes()] == ["Books", "Toys & Games"]
    assert [child.name for child in Category.objects.get_children(toys)] == ["Dolls", "Puzzles"]
    assert list(Category.objects.get_ancestors(jigsaw)) == [toys, puzzles]
    assert (jigsaw.name, jigsaw.slug, jigsaw.depth) == ("Jigsaw", "jigsaw", 3)
    assert Category.objects.find_problems() == ([], [], [], [], [])
    assert tree.get("Toys & Games |  Puzzles") == puzzles


def test_creating_categories_again_changes_nothing():
    CategoryTree().ensure(["Toys & Games | Puzzles", "Books | Cookbooks"])
    before = list(Category.objects.order_by("path").values_list("id", "path", "slug", "numchild"))
    assert CategoryTree().ensure(["Toys & Games | Puzzles", "Books | Cookbooks", "Books"]) == 0
    after = list(Category.objects.order_by("path").values_list("id", "path", "slug", "numchild"))
    assert after == before


def test_new_nodes_attach_under_existing_ones():
    toys = CategoryFactory(name="Toys & Games", slug="toys-games", source_path="Toys & Games")
    CategoryFactory(name="Puzzles", slug="puzzles", parent=toys)
    tree = CategoryTree()
    assert tree.ensure(["Toys & Games | Puzzles | 3D", "Toys & Games | Dolls"]) == 2
    toys.refresh_from_db()
    assert [child.name for child in Category.objects.get_children(toys)] == ["Puzzles", "Dolls"]
    assert toys.numchild == 2
    puzzles = Category.objects.get(source_path="Toys & Games | Puzzles")
    assert [child.name for child in Category.objects.get_children(puzzles)] == ["3D"]
    assert Category.objects.find_problems() == ([], [], [], [], [])


def test_slugs_stay_unique_and_keep_unicode():
    CategoryTree().ensure(["Toys & Games | Puzzles", "Books | Puzzles", "Puzzles", "완구 | 퍼즐"])
    slugs = dict(Category.objects.values_list("source_path", "slug"))
    assert slugs["Puzzles"] == "puzzles"
    assert {slugs["Toys & Games | Puzzles"], slugs["Books | Puzzles"]} == {"puzzles-2", "puzzles-3"}
    assert slugs["완구 | 퍼즐"] == "퍼즐"
    assert slugs["Toys & Games"] == "toys-games"


def test_a_whole_feed_of_categories_costs_a_handful_of_queries(django_assert_max_num_queries):
    paths = [
        f"Department {d} | Aisle {a} | Shelf {s}"
        for d in range(3)
        for a in range(10)
        for s in range(5)
    ]
    tree = CategoryTree()
    # 3 + 30 + 150 nodes: the 3 new roots are added one by one (a select and an insert
    # each), everything below them by bulk inserts, then one select reads them back; the
    # rest are savepoints.
    with django_assert_max_num_queries(20):
        assert tree.ensure(paths) == 183
    assert Category.objects.count() == 183
    assert Category.objects.find_problems() == ([], [], [], [], [])


def test_typical_weight_comes_from_the_nearest_category_that_has_one():
    CategoryTree().ensure(["Sports | Cycling | Bikes | Kids"])
    Category.objects.filter(source_path="Sports | Cycling").update(typical_weight_kg=Decimal("9.5"))
    tree = CategoryTree()
    assert tree.typical_weight_kg("Sports | Cycling | Bikes | Kids") == Decimal("9.5")
    assert tree.typical_weight_kg("Sports") is None


def test_category_get_or_create_for_one_path():
    first = category_get_or_create(path="Toys & Games | Puzzles")
    again = category_get_or_create(path=" Toys & Games |Puzzles ")
    assert first == again
    assert Category.objects.count() == 2
