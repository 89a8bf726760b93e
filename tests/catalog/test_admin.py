"""Staff admin for the catalog: product list and form, bulk (de)activation, filters,
search, the won shelf price, categories, customs classes and rules, exchange rates, and
what a staff user without superuser rights may see."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from catalog.models import Category, CustomsClass, CustomsClassRule, ExchangeRate, Product
from catalog.selectors import fx_rate_current
from catalog.services.products import (
    ProductInvalid,
    product_create,
    product_update,
    products_set_active,
)
from tests.factories import (
    CategoryFactory,
    CustomsClassFactory,
    ExchangeRateFactory,
    ProductFactory,
    StockFactory,
    WarehouseFactory,
)

pytestmark = pytest.mark.django_db

PRODUCTS_URL = reverse("admin:catalog_product_changelist")


def product_url(product: Product) -> str:
    return reverse("admin:catalog_product_change", args=[product.pk])


def changelist(client, url: str = PRODUCTS_URL, **params):
    response = client.get(url, params)
    assert response.status_code == 200
    return response


def listed_asins(response) -> set[str]:
    return {product.asin for product in response.context["cl"].result_list}


def staff_with_permissions(client, *codenames: str, username: str = "editor") -> User:
    """A staff user (no superuser) whose only rights come from a group with these
    permissions, logged in on ``client``."""
    group = Group.objects.create(name=f"{username} group")
    group.permissions.set(Permission.objects.filter(codename__in=codenames))
    user = User.objects.create_user(username=username, password="unused-pw-123", is_staff=True)
    user.groups.add(group)
    client.force_login(user)
    return user


@pytest.fixture(autouse=True)
def _english(settings):
    """Staff pages in English, so assertions on messages hold whatever Korean
    translations exist."""
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def selling_rate_1400(settings):
    settings.PRICE_MARGIN = Decimal("0.10")
    return ExchangeRateFactory(kind=ExchangeRate.Kind.SELLING, rate=Decimal("1400.0000"))


# --- Query counts ---------------------------------------------------------------------------


def _product_with_everything(category: Category, warehouse) -> Product:
    product = ProductFactory(
        category=category, image_urls=["https://m.media-amazon.com/images/I/x.jpg"]
    )
    StockFactory(product=product, warehouse=warehouse, on_hand=4, allocated=1)
    return product


def _count_queries(client, url: str, params: dict) -> int:
    cache.clear()  # every measured page pays for its own FX lookup
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize(
    "params",
    [{}, {"q": "Test product"}, {"is_active__exact": "1", "domestic_stock": "yes"}],
    ids=["plain", "search", "filtered"],
)
def test_product_changelist_queries_do_not_grow_with_the_page(
    admin_client, selling_rate_1400, params
):
    """Session, user, root categories and customs classes (filter menus), count, FX rate,
    the page (with units in Korea as a subquery): 7 queries for 10 or 50 products."""
    toys = CategoryFactory(name="Toys")
    puzzles = CategoryFactory(name="Puzzles", parent=toys)
    warehouse = WarehouseFactory(code="icn")
    for _ in range(10):
        _product_with_everything(puzzles, warehouse)
    admin_client.get(PRODUCTS_URL)  # warm up per-process caches (content types, session)

    ten = _count_queries(admin_client, PRODUCTS_URL, params)
    for _ in range(40):
        _product_with_everything(puzzles, warehouse)
    fifty = _count_queries(admin_client, PRODUCTS_URL, params)

    response = admin_client.get(PRODUCTS_URL, params)
    assert len(response.context["cl"].result_list) == 50
    assert ten == fifty == 7


def test_product_changelist_with_category_chosen_keeps_its_query_count(
    admin_client, selling_rate_1400
):
    toys = CategoryFactory(name="Toys")
    puzzles = CategoryFactory(name="Puzzles", parent=toys)
    warehouse = WarehouseFactory(code="icn")
    for _ in range(10):
        _product_with_everything(puzzles, warehouse)
    admin_client.get(PRODUCTS_URL)
    params = {"category": str(toys.pk)}

    ten = _count_queries(admin_client, PRODUCTS_URL, params)
    for _ in range(40):
        _product_with_everything(puzzles, warehouse)
    # + the chosen category (for its subtree and the drill-down menu)
    assert _count_queries(admin_client, PRODUCTS_URL, params) == ten == 8


# --- Shelf price --------------------------------------------------------------------------


def test_shelf_price_in_won_is_shown_on_the_list_and_the_product_page(
    admin_client, selling_rate_1400
):
    # 19.99 USD × 1400 × 1.10 = 30,784.60 → rounded up to the next ₩10
    product = ProductFactory(source_price_usd=Decimal("19.99"))

    listing = changelist(admin_client)
    assert "₩30,790" in listing.content.decode()
    assert "1,400.00" in listing.context["subtitle"]

    page = admin_client.get(product_url(product))
    assert page.status_code == 200
    assert "₩30,790 at ₩1,400.00 per USD" in page.content.decode()


def test_shelf_price_follows_a_new_rate_and_is_never_stored(admin_client, selling_rate_1400):
    product = ProductFactory(source_price_usd=Decimal("10.00"))
    assert "₩15,400" in changelist(admin_client).content.decode()

    ExchangeRateFactory(rate=Decimal("1500.0000"), effective_at=timezone.now())
    cache.clear()
    assert "₩16,500" in changelist(admin_client).content.decode()
    assert Product.objects.get(pk=product.pk).source_price_usd == Decimal("10.00")


def test_product_list_shows_units_available_in_korea(admin_client, selling_rate_1400):
    product = ProductFactory()
    StockFactory(product=product, warehouse=WarehouseFactory(code="icn"), on_hand=7, allocated=2)
    StockFactory(
        product=product, warehouse=WarehouseFactory(code="us", is_domestic=False), on_hand=50
    )
    row = next(p for p in changelist(admin_client).context["cl"].result_list if p == product)
    assert row.domestic_available == 5


# --- Bulk activate / deactivate -----------------------------------------------------------


def _run_action(client, action: str, products: list[Product]):
    return client.post(
        PRODUCTS_URL,
        {"action": action, "_selected_action": [p.pk for p in products]},
        follow=True,
    )


def test_bulk_deactivate_changes_exactly_the_selected_products(admin_client, selling_rate_1400):
    active = ProductFactory.create_batch(5, is_active=True)
    inactive = ProductFactory.create_batch(2, is_active=False)
    before = dict(Product.objects.values_list("pk", "updated_at"))
    selected = [*active[:3], inactive[0]]

    response = _run_action(admin_client, "deactivate_selected", selected)

    assert response.status_code == 200
    states = dict(Product.objects.values_list("pk", "is_active"))
    assert {pk for pk, is_active in states.items() if not is_active} == {
        *(p.pk for p in active[:3]),
        *(p.pk for p in inactive),
    }
    after = dict(Product.objects.values_list("pk", "updated_at"))
    untouched = [p.pk for p in [*active[3:], *inactive]]
    assert all(after[pk] == before[pk] for pk in untouched)
    text = response.content.decode()
    assert "3 products deactivated." in text
    assert "1 selected product already was." in text


def test_bulk_activate_changes_exactly_the_selected_products(admin_client, selling_rate_1400):
    inactive = ProductFactory.create_batch(4, is_active=False)
    active = ProductFactory.create_batch(2, is_active=True)

    response = _run_action(admin_client, "activate_selected", inactive[:2])

    assert "2 products activated." in response.content.decode()
    active_now = set(Product.objects.filter(is_active=True).values_list("pk", flat=True))
    assert active_now == {*(p.pk for p in inactive[:2]), *(p.pk for p in active)}


def test_products_set_active_is_one_update_and_counts_only_changes():
    products = ProductFactory.create_batch(3, is_active=True)
    already_off = ProductFactory(is_active=False)

    with CaptureQueriesContext(connection) as queries:
        changed = products_set_active(
            product_ids=[products[0].pk, products[1].pk, already_off.pk], active=False
        )

    assert changed == 2
    statements = [q["sql"].split()[0].upper() for q in queries]
    assert statements.count("UPDATE") == 1
    assert "SELECT" not in statements
    assert Product.objects.get(pk=products[2].pk).is_active


# --- Filters and search -------------------------------------------------------------------


def test_category_filter_offers_top_levels_and_includes_every_descendant(
    admin_client, selling_rate_1400
):
    toys = CategoryFactory(name="Toys & Games")
    puzzles = CategoryFactory(name="Puzzles", parent=toys)
    jigsaw = CategoryFactory(name="Jigsaw", parent=puzzles)
    books = CategoryFactory(name="Books")
    in_root = ProductFactory(category=toys)
    in_grandchild = ProductFactory(category=jigsaw)
    elsewhere = ProductFactory(category=books)
    ProductFactory(category=None)

    offered = changelist(admin_client).context["cl"].filter_specs[0].lookup_choices
    assert [label for _, label in offered] == ["Books", "Toys & Games"]

    chosen = changelist(admin_client, category=toys.pk)
    assert listed_asins(chosen) == {in_root.asin, in_grandchild.asin}
    labels = [label.strip() for _, label in chosen.context["cl"].filter_specs[0].lookup_choices]
    assert labels == ["Books", "Toys & Games", "Puzzles"]  # drill-down shows the children
    deeper = changelist(admin_client, category=puzzles.pk).context["cl"].filter_specs[0]
    assert [label.strip() for _, label in deeper.lookup_choices] == [
        "Books",
        "Toys & Games",
        "Puzzles",
        "Jigsaw",
    ]

    assert listed_asins(changelist(admin_client, category=puzzles.pk)) == {in_grandchild.asin}
    assert elsewhere.asin in listed_asins(changelist(admin_client, category=books.pk))


def test_domestic_stock_filter(admin_client, selling_rate_1400):
    korea = WarehouseFactory(code="icn", is_domestic=True)
    closed = WarehouseFactory(code="old", is_domestic=True, is_active=False)
    us = WarehouseFactory(code="us", is_domestic=False)
    in_korea = StockFactory(warehouse=korea, on_hand=3, allocated=1).product
    fully_allocated = StockFactory(warehouse=korea, on_hand=2, allocated=2).product
    only_closed = StockFactory(warehouse=closed, on_hand=9).product
    only_us = StockFactory(warehouse=us, on_hand=9).product
    no_stock = ProductFactory()

    assert listed_asins(changelist(admin_client, domestic_stock="yes")) == {in_korea.asin}
    assert listed_asins(changelist(admin_client, domestic_stock="no")) == {
        p.asin for p in (fully_allocated, only_closed, only_us, no_stock)
    }


def test_customs_class_and_active_filters(admin_client, selling_rate_1400):
    books = CustomsClassFactory(code="books")
    book = ProductFactory(customs_class=books)
    other_inactive = ProductFactory(is_active=False)

    assert listed_asins(changelist(admin_client, customs_class__id__exact=books.pk)) == {book.asin}
    assert listed_asins(changelist(admin_client, is_active__exact="0")) == {other_inactive.asin}


def test_search_by_exact_asin_any_case_and_by_title_words(admin_client, selling_rate_1400):
    wanted = ProductFactory(asin="B0BBSF2MBJ", title="Jitsu Squad (PS5)")
    also = ProductFactory(asin="0307387895", title="The Road")
    ProductFactory(asin="B0BBSF2MBK", title="Mentions B0BBSF2MBJ in its title")
    headphones = ProductFactory(title="Wireless HEADPHONES over ear")

    assert listed_asins(changelist(admin_client, q="b0bbsf2mbj")) == {wanted.asin}
    assert listed_asins(changelist(admin_client, q="B0BBSF2MBJ, 0307387895")) == {
        wanted.asin,
        also.asin,
    }
    # Ten letters without a digit is a word, not an ASIN.
    assert listed_asins(changelist(admin_client, q="headphones")) == {headphones.asin}
    assert listed_asins(changelist(admin_client, q="jitsu squad")) == {wanted.asin}


def test_asin_search_uses_an_exact_lookup_not_a_case_insensitive_scan(
    admin_client, selling_rate_1400
):
    ProductFactory(asin="B0BBSF2MBJ")
    cache.clear()
    with CaptureQueriesContext(connection) as queries:
        changelist(admin_client, q="b0bbsf2mbj")
    product_queries = [q["sql"] for q in queries if 'FROM "catalog_product"' in q["sql"]]
    assert product_queries
    for sql in product_queries:
        assert "UPPER" not in sql
        assert "LIKE" not in sql


# --- Product form -------------------------------------------------------------------------


def _form_data(product: Product, **changes) -> dict:
    data = {
        "title": product.title,
        "brand": product.brand,
        "is_active": "on" if product.is_active else "",
        "category": product.category_id or "",
        "customs_class": product.customs_class_id,
        "source_price_usd": str(product.source_price_usd),
        "list_price_usd": "",
        "weight_kg": str(product.weight_kg),
        "image_urls": "[]",
        "bullet_points": "[]",
        "description": product.description,
        "rating": "",
        "review_count": str(product.review_count),
        "bought_last_month": str(product.bought_last_month),
        "stocks-TOTAL_FORMS": "0",
        "stocks-INITIAL_FORMS": "0",
        "stocks-MIN_NUM_FORMS": "0",
        "stocks-MAX_NUM_FORMS": "0",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value != ""}


def test_staff_edit_is_saved_and_imported_fields_stay_read_only(admin_client, selling_rate_1400):
    product = ProductFactory(
        source=Product.Source.AMAZON_2023,
        source_hash="abc123",
        source_url="https://www.amazon.com/dp/B000000001",
    )
    data = _form_data(
        product,
        title="A better title",
        source_price_usd="24.50",
        source="manual",
        source_hash="tampered",
        asin="B999999999",
    )

    response = admin_client.post(product_url(product), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    product.refresh_from_db()
    assert (product.title, product.source_price_usd) == ("A better title", Decimal("24.50"))
    assert (product.source, product.source_hash) == (Product.Source.AMAZON_2023, "abc123")
    assert product.asin != "B999999999"


def test_invalid_product_edit_is_a_form_error_and_changes_nothing(admin_client, selling_rate_1400):
    product = ProductFactory(title="Original")

    response = admin_client.post(
        product_url(product), _form_data(product, title="Changed", source_price_usd="0")
    )

    assert response.status_code == 200
    assert "source_price_usd" in str(response.context["adminform"].form.errors) or (
        response.context["adminform"].form.non_field_errors()
    )
    product.refresh_from_db()
    assert product.title == "Original"


def test_staff_can_add_a_manual_product(admin_client, selling_rate_1400):
    other = CustomsClass.objects.get(code="other")
    data = _form_data(
        Product(
            title="Hand-entered kettle",
            customs_class=other,
            source_price_usd=Decimal("30.00"),
            weight_kg=Decimal("1.2"),
        ),
        asin="b0manual01",
    )

    response = admin_client.post(reverse("admin:catalog_product_add"), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    product = Product.objects.get(asin="B0MANUAL01")
    assert product.source == Product.Source.MANUAL
    assert product.title == "Hand-entered kettle"


def test_product_update_writes_only_the_changed_fields():
    product = ProductFactory(title="Old", brand="Acme")
    Product.objects.filter(pk=product.pk).update(brand="Changed elsewhere")

    product_update(product_id=product.pk, changes={"title": "New"})

    product.refresh_from_db()
    assert (product.title, product.brand) == ("New", "Changed elsewhere")


def test_product_update_refuses_fields_staff_may_not_set():
    product = ProductFactory(source_hash="abc")
    with pytest.raises(ProductInvalid) as error:
        product_update(product_id=product.pk, changes={"source_hash": "x", "title": "New"})
    assert error.value.code == "product_field_not_editable"
    assert "source_hash" in error.value.fields
    product.refresh_from_db()
    assert (product.source_hash, product.title) == ("abc", product.title)


def test_product_create_refuses_a_taken_asin_and_writes_nothing():
    existing = ProductFactory(asin="B0TAKEN001")
    with pytest.raises(ProductInvalid) as error:
        product_create(
            asin="b0taken001",
            fields={
                "title": "Duplicate",
                "source_price_usd": Decimal("5.00"),
                "weight_kg": Decimal("0.2"),
                "customs_class_id": existing.customs_class_id,
            },
        )
    assert "asin" in error.value.fields
    assert list(Product.objects.values_list("title", flat=True)) == [existing.title]


def test_product_create_names_the_field_of_an_unknown_customs_class():
    with pytest.raises(ProductInvalid) as error:
        product_create(
            asin="B0NEW00001",
            fields={
                "title": "New",
                "source_price_usd": Decimal("5.00"),
                "weight_kg": Decimal("0.2"),
                "customs_class_id": 999_999,
            },
        )
    assert set(error.value.fields) == {"customs_class_id"}
    assert not Product.objects.exists()


def test_products_cannot_be_deleted_in_admin(admin_client, selling_rate_1400):
    product = ProductFactory()
    response = admin_client.post(
        reverse("admin:catalog_product_delete", args=[product.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    assert Product.objects.filter(pk=product.pk).exists()


# --- Permissions ----------------------------------------------------------------------------


def test_catalog_editor_sees_products_but_not_stock_or_warehouses(client, selling_rate_1400):
    ProductFactory(title="Visible product")
    stock = StockFactory(warehouse=WarehouseFactory(code="secret-stock-room"))
    staff_with_permissions(client, "view_product", "change_product", "view_category")

    index = client.get(reverse("admin:index"))
    assert index.status_code == 200
    apps = {model["object_name"] for app in index.context["app_list"] for model in app["models"]}
    assert apps == {"Product", "Category"}
    assert "Visible product" in changelist(client).content.decode()
    product_page = client.get(product_url(stock.product)).content.decode()
    assert stock.warehouse.code not in product_page  # the stock inline needs stock rights
    assert "stocks-TOTAL_FORMS" not in product_page

    assert client.get(reverse("admin:fulfillment_stock_changelist")).status_code == 403
    assert client.get(reverse("admin:fulfillment_warehouse_changelist")).status_code == 403
    assert client.get(reverse("admin:fulfillment_stock_change", args=[stock.pk])).status_code == 403
    assert client.get(reverse("admin:catalog_exchangerate_changelist")).status_code == 403


def test_view_only_staff_cannot_run_bulk_actions(client, selling_rate_1400):
    products = ProductFactory.create_batch(3, is_active=True)
    staff_with_permissions(client, "view_product", username="viewer")

    page = changelist(client)
    assert "deactivate_selected" not in page.content.decode()
    assert page.context["cl"].model_admin.get_actions(page.wsgi_request) == {}

    _run_action(client, "deactivate_selected", products)
    assert Product.objects.filter(is_active=True).count() == 3

    response = client.post(product_url(products[0]), _form_data(products[0], title="Hacked"))
    assert response.status_code == 403
    assert Product.objects.get(pk=products[0].pk).title != "Hacked"


def test_editor_with_change_permission_can_run_bulk_actions(client, selling_rate_1400):
    products = ProductFactory.create_batch(2, is_active=True)
    staff_with_permissions(client, "view_product", "change_product")

    _run_action(client, "deactivate_selected", products[:1])

    assert list(Product.objects.filter(is_active=True)) == [products[1]]


# --- Categories, customs ------------------------------------------------------------------


def test_category_tree_admin_lists_roots_with_subtree_product_counts(admin_client):
    toys = CategoryFactory(name="Toys & Games")
    puzzles = CategoryFactory(name="Puzzles", parent=toys)
    CategoryFactory(name="Books")
    ProductFactory.create_batch(2, category=puzzles)
    ProductFactory(category=toys)

    response = changelist(admin_client, reverse("admin:catalog_category_changelist"))
    rows = {c.name: c.subtree_products for c in response.context["cl"].result_list}
    assert rows == {"Toys & Games": 3, "Books": 0}

    found = changelist(admin_client, reverse("admin:catalog_category_changelist"), q="puzz")
    assert [c.name for c in found.context["cl"].result_list] == ["Puzzles"]


def test_category_can_be_added_under_a_parent_with_treebeards_form(admin_client):
    toys = CategoryFactory(name="Toys & Games")

    response = admin_client.post(
        reverse("admin:catalog_category_add"),
        {
            "name": "Puzzles",
            "slug": "toys-puzzles",
            "source_path": "Toys & Games | Puzzles",
            "treebeard_position": "first-child",
            "treebeard_ref_node": toys.pk,
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    puzzles = Category.objects.get(slug="toys-puzzles")
    assert Category.objects.get_parent(puzzles) == toys


def test_customs_class_rates_are_editable(admin_client):
    books = CustomsClass.objects.get(code="books")
    response = admin_client.post(
        reverse("admin:catalog_customsclass_change", args=[books.pk]),
        {
            "name": books.name,
            "name_ko": books.name_ko,
            "duty_rate": "0.05",
            "list_clearance": "on",
            "max_quantity_per_order": "3",
            "typical_weight_kg": "0.700",
        },
    )
    assert response.status_code == 302
    books.refresh_from_db()
    assert (books.duty_rate, books.vat_applies, books.max_quantity_per_order) == (
        Decimal("0.05"),
        False,
        3,
    )
    assert books.code == "books"


def test_customs_class_duty_rate_over_100_percent_is_refused(admin_client):
    books = CustomsClass.objects.get(code="books")
    response = admin_client.post(
        reverse("admin:catalog_customsclass_change", args=[books.pk]),
        {"name": books.name, "duty_rate": "1.5", "typical_weight_kg": "0.7"},
    )
    assert response.status_code == 200
    books.refresh_from_db()
    assert books.duty_rate == Decimal("0")


def test_customs_rules_priority_and_class_are_editable_from_the_list(admin_client):
    rules = list(CustomsClassRule.objects.select_related("customs_class")[:2])
    toys = CustomsClass.objects.get(code="toys")
    url = reverse("admin:catalog_customsclassrule_changelist")
    page = changelist(admin_client, url)
    shown = list(page.context["cl"].result_list)
    data = {
        "form-TOTAL_FORMS": str(len(shown)),
        "form-INITIAL_FORMS": str(len(shown)),
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    for index, rule in enumerate(shown):
        data[f"form-{index}-id"] = rule.pk
        data[f"form-{index}-priority"] = rule.priority
        data[f"form-{index}-customs_class"] = rule.customs_class_id
    first = shown.index(rules[0])
    data[f"form-{first}-priority"] = 7
    data[f"form-{first}-customs_class"] = toys.pk

    response = admin_client.post(url, data)

    assert response.status_code == 302
    rules[0].refresh_from_db()
    assert (rules[0].priority, rules[0].customs_class) == (7, toys)
    assert CustomsClassRule.objects.get(pk=rules[1].pk).priority == rules[1].priority


def test_customs_rule_list_reads_the_class_choices_once_for_every_editable_row(admin_client):
    url = reverse("admin:catalog_customsclassrule_changelist")
    admin_client.get(url)
    seeded = _count_queries(admin_client, url, {})
    toys = CustomsClass.objects.get(code="toys")
    for index in range(20):
        CustomsClassRule.objects.create(pattern=f"Extra pattern {index}", customs_class=toys)

    assert _count_queries(admin_client, url, {}) == seeded


def test_test_a_path_box_answers_with_the_importers_mapping(admin_client):
    url = reverse("admin:catalog_customsclassrule_changelist")

    response = changelist(
        admin_client, url, test_path="Beauty & Personal Care | Sun Care | Sunscreen"
    )
    empty = changelist(admin_client, url, test_path="Totally Unknown | Things")

    assert response.context["test_path_class"].code == "functional_cosmetics"
    assert "maps to Functional cosmetics (functional_cosmetics)" in response.content.decode()
    assert empty.context["test_path_class"].code == "other"
    # The path is not taken for a filter of the rule list.
    assert len(response.context["cl"].result_list) == CustomsClassRule.objects.count()


def test_every_catalog_admin_page_renders(admin_client, selling_rate_1400):
    toys = CategoryFactory(name="Toys & Games")
    puzzles = CategoryFactory(name="Puzzles", parent=toys)
    product = ProductFactory(
        category=puzzles, image_urls=["https://m.media-amazon.com/images/I/x.jpg"]
    )
    StockFactory(product=product)
    rate = ExchangeRateFactory()
    pages = [
        reverse("admin:index"),
        reverse("admin:catalog_product_add"),
        product_url(product),
        reverse("admin:catalog_category_changelist"),
        reverse("admin:catalog_category_add"),
        reverse("admin:catalog_category_change", args=[puzzles.pk]),
        f"{reverse('admin:catalog_category_changelist')}children/{toys.pk}/",
        reverse("admin:catalog_customsclass_changelist"),
        reverse("admin:catalog_customsclass_change", args=[CustomsClass.objects.first().pk]),
        reverse("admin:catalog_customsclassrule_changelist"),
        reverse("admin:catalog_customsclassrule_add"),
        reverse("admin:catalog_exchangerate_changelist"),
        reverse("admin:catalog_exchangerate_add"),
        reverse("admin:catalog_exchangerate_change", args=[rate.pk]),
    ]
    for url in pages:
        assert admin_client.get(url).status_code == 200, url


# --- Exchange rates -----------------------------------------------------------------------


def test_exchange_rates_are_listed_newest_first_and_cannot_be_edited_or_deleted(admin_client):
    now = timezone.now()
    old = ExchangeRateFactory(rate=Decimal("1300"), effective_at=now - datetime.timedelta(days=2))
    new = ExchangeRateFactory(rate=Decimal("1350"), effective_at=now - datetime.timedelta(days=1))

    listing = changelist(admin_client, reverse("admin:catalog_exchangerate_changelist"))
    assert list(listing.context["cl"].result_list) == [new, old]

    change_url = reverse("admin:catalog_exchangerate_change", args=[old.pk])
    page = admin_client.get(change_url)
    assert page.status_code == 200
    assert 'name="rate"' not in page.content.decode()  # shown read-only
    response = admin_client.post(
        change_url,
        {"kind": "selling", "rate": "999", "effective_at": now.isoformat(), "source": "x"},
    )
    assert response.status_code == 403
    deleting = admin_client.post(
        reverse("admin:catalog_exchangerate_delete", args=[old.pk]), {"post": "yes"}
    )
    assert deleting.status_code == 403
    old.refresh_from_db()
    assert old.rate == Decimal("1300.0000")
    assert ExchangeRate.objects.count() == 2


def test_manual_rate_is_a_new_row_and_becomes_current(
    admin_client, django_capture_on_commit_callbacks
):
    published = ExchangeRateFactory(
        rate=Decimal("1350"), effective_at=timezone.now() - datetime.timedelta(hours=1)
    )
    assert fx_rate_current().rate == Decimal("1350")  # now cached

    effective = timezone.localtime()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:catalog_exchangerate_add"),
            {
                "kind": "selling",
                "rate": "1420.50",
                "effective_at_0": effective.strftime("%Y-%m-%d"),
                "effective_at_1": effective.strftime("%H:%M:%S"),
                "source": "manual (admin)",
            },
        )

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert ExchangeRate.objects.count() == 2
    published.refresh_from_db()
    assert published.rate == Decimal("1350.0000")
    assert fx_rate_current().rate == Decimal("1420.5000")


def test_manual_rate_cannot_take_effect_in_the_future(admin_client):
    later = timezone.localtime() + datetime.timedelta(days=1)
    response = admin_client.post(
        reverse("admin:catalog_exchangerate_add"),
        {
            "kind": "selling",
            "rate": "1420.50",
            "effective_at_0": later.strftime("%Y-%m-%d"),
            "effective_at_1": later.strftime("%H:%M:%S"),
            "source": "manual",
        },
    )
    assert response.status_code == 200
    assert "effective_at" in response.context["adminform"].form.errors
    assert not ExchangeRate.objects.exists()
