"""Cart services and selectors: the personal-use customs limits, the cart's own limits, lines
of products no longer sold, the cart view (prices, promise, query count) and the merge of a
session's cart into the shopper's at sign-in.

Prices: selling rate 1400 and a 10% margin, so USD 19.99 → ₩30,790 and USD 10.00 → ₩15,400.
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from catalog.models import CustomsClass, ExchangeRate
from orders.models import Cart, CartLine
from orders.selectors.carts import cart_item_count, cart_product_id_for_asin, cart_view
from orders.services.carts import (
    CartFull,
    CartLimitExceeded,
    CartLineNotFound,
    CartLineQuantityExceeded,
    CartProductUnavailable,
    CartQuantityInvalid,
    cart_add,
    cart_get_or_create_for_customer,
    cart_get_or_create_for_session,
    cart_merge,
    cart_remove,
    cart_set_quantity,
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


@pytest.fixture(autouse=True)
def selling_rate(settings):
    settings.PRICE_MARGIN = Decimal("0.10")
    settings.CART_MAX_LINE_QUANTITY = 20
    settings.CART_MAX_LINES = 50
    return ExchangeRateFactory(kind=ExchangeRate.Kind.SELLING, rate=Decimal("1400"))


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def classes(customs_seed) -> dict[str, CustomsClass]:
    return {c.code: c for c in CustomsClass.objects.all()}


@pytest.fixture
def cart() -> Cart:
    return cart_get_or_create_for_session(session_key="s" * 32)


def product_of(classes, code: str, **kwargs):
    return ProductFactory(customs_class=classes[code], **kwargs)


def quantities(cart: Cart) -> dict[str, int]:
    return {
        line.product.asin: line.quantity
        for line in CartLine.objects.filter(cart=cart).select_related("product")
    }


# --- The seeded limits --------------------------------------------------------------------


def test_seeded_personal_use_limits_are_the_domain_ones(classes):
    limits = {
        code: (c.max_quantity_per_order, c.max_quantity_per_product) for code, c in classes.items()
    }
    assert limits["supplements"] == (6, None)
    assert limits["medicines"] == (6, None)
    assert limits["electronics"] == (None, 1)
    assert limits["computers"] == (None, 1)
    assert limits["other"] == (None, None)


# --- Per order: supplements and medicines --------------------------------------------------


@pytest.mark.parametrize(
    ("code", "label"), [("supplements", "health supplements"), ("medicines", "medicines")]
)
def test_six_per_order_counts_every_product_of_the_class(cart, classes, code, label):
    first, second = product_of(classes, code), product_of(classes, code)
    cart_add(cart=cart, product_id=first.pk, quantity=4)

    with pytest.raises(CartLimitExceeded) as refused:
        cart_add(cart=cart, product_id=second.pk, quantity=3)

    assert refused.value.code == "personal_use_limit"
    assert refused.value.message == (
        f"Customs allows at most 6 {label} per order for personal use; your cart already "
        "has 4. You can add 2 more."
    )
    assert refused.value.allowed == 2
    assert quantities(cart) == {first.asin: 4}  # nothing changed

    cart_add(cart=cart, product_id=second.pk, quantity=2)
    assert quantities(cart) == {first.asin: 4, second.asin: 2}
    with pytest.raises(CartLimitExceeded) as full:
        cart_add(cart=cart, product_id=first.pk)
    assert full.value.message == (
        f"Customs allows at most 6 {label} per order for personal use; your cart already has 6."
    )
    assert quantities(cart) == {first.asin: 4, second.asin: 2}


def test_other_classes_do_not_count_towards_a_class_limit(cart, classes):
    vitamins = product_of(classes, "supplements")
    cart_add(cart=cart, product_id=product_of(classes, "medicines").pk, quantity=6)
    cart_add(cart=cart, product_id=product_of(classes, "other").pk, quantity=10)
    cart_add(cart=cart, product_id=vitamins.pk, quantity=6)
    assert quantities(cart)[vitamins.asin] == 6


def test_the_class_is_named_in_korean_on_korean_pages(cart, classes):
    first, second = product_of(classes, "supplements"), product_of(classes, "supplements")
    cart_add(cart=cart, product_id=first.pk, quantity=6)
    with translation.override("ko"), pytest.raises(CartLimitExceeded) as refused:
        cart_add(cart=cart, product_id=second.pk)
    assert "건강기능식품" in refused.value.message
    assert "health supplements" not in refused.value.message


def test_a_class_without_a_korean_name_uses_its_english_name(cart):
    pills = CustomsClassFactory(code="pills", name="Sleeping pills", max_quantity_per_order=2)
    product = ProductFactory(customs_class=pills)
    with translation.override("ko"), pytest.raises(CartLimitExceeded) as refused:
        cart_add(cart=cart, product_id=product.pk, quantity=3)
    assert "sleeping pills" in refused.value.message


# --- Per product: electronics and computers -------------------------------------------------


def test_one_unit_per_electronics_model(cart, classes):
    headphones, speaker = product_of(classes, "electronics"), product_of(classes, "electronics")
    cart_add(cart=cart, product_id=headphones.pk)

    with pytest.raises(CartLimitExceeded) as refused:
        cart_add(cart=cart, product_id=headphones.pk)
    assert refused.value.code == "personal_use_limit"
    assert refused.value.message == (
        "Customs allows only one unit per small appliances and TVs model in an order for "
        "personal use. Your cart already has 1."
    )
    with pytest.raises(CartLimitExceeded):
        cart_add(cart=cart, product_id=speaker.pk, quantity=2)
    assert quantities(cart) == {headphones.asin: 1}

    cart_add(cart=cart, product_id=speaker.pk)  # another model is fine
    assert quantities(cart) == {headphones.asin: 1, speaker.asin: 1}


def test_one_unit_per_computer_model(cart, classes):
    laptop = product_of(classes, "computers")
    with pytest.raises(CartLimitExceeded) as refused:
        cart_add(cart=cart, product_id=laptop.pk, quantity=2)
    assert refused.value.message == (
        "Customs allows only one unit per computers, phones and cameras model in an order for "
        "personal use."
    )
    assert not CartLine.objects.exists()


# --- The cart's own limits --------------------------------------------------------------------


@pytest.mark.parametrize("code", ["other", "clothing", "books", "toys"])
def test_unlimited_classes_stop_at_the_line_maximum(cart, classes, code, settings):
    product = product_of(classes, code)
    cart_add(cart=cart, product_id=product.pk, quantity=20)
    with pytest.raises(CartLineQuantityExceeded) as refused:
        cart_add(cart=cart, product_id=product.pk)
    assert refused.value.code == "line_quantity_limit"
    assert refused.value.message == "You can buy at most 20 units of one product in an order."
    assert quantities(cart) == {product.asin: 20}

    settings.CART_MAX_LINE_QUANTITY = 25
    cart_add(cart=cart, product_id=product.pk, quantity=5)
    assert quantities(cart) == {product.asin: 25}


def test_the_cart_holds_at_most_cart_max_lines_products(cart, settings):
    settings.CART_MAX_LINES = 2
    first, second, third = ProductFactory.create_batch(3)
    cart_add(cart=cart, product_id=first.pk)
    cart_add(cart=cart, product_id=second.pk)
    with pytest.raises(CartFull) as refused:
        cart_add(cart=cart, product_id=third.pk)
    assert refused.value.code == "cart_full"
    cart_add(cart=cart, product_id=first.pk)  # more of a product already there is fine
    assert quantities(cart) == {first.asin: 2, second.asin: 1}


@pytest.mark.parametrize("quantity", [0, -1])
def test_a_quantity_under_one_is_refused(cart, quantity):
    product = ProductFactory()
    with pytest.raises(CartQuantityInvalid):
        cart_add(cart=cart, product_id=product.pk, quantity=quantity)
    assert not CartLine.objects.exists()


# --- Products no longer sold --------------------------------------------------------------------


def test_an_inactive_or_unknown_product_is_refused(cart):
    inactive = ProductFactory(is_active=False)
    with pytest.raises(CartProductUnavailable) as refused:
        cart_add(cart=cart, product_id=inactive.pk)
    assert refused.value.code == "product_unavailable"
    with pytest.raises(CartProductUnavailable):
        cart_add(cart=cart, product_id=inactive.pk + 1000)
    assert not CartLine.objects.exists()


def test_a_product_that_stops_selling_stays_flagged_and_out_of_the_subtotal(cart):
    kept = ProductFactory(source_price_usd=Decimal("19.99"))
    dropped = ProductFactory(source_price_usd=Decimal("10.00"))
    cart_add(cart=cart, product_id=kept.pk, quantity=2)
    cart_add(cart=cart, product_id=dropped.pk, quantity=3)
    dropped.is_active = False
    dropped.save(update_fields=["is_active"])

    view = cart_view(cart=cart)

    assert [(line.product.asin, line.available) for line in view.lines] == [
        (kept.asin, True),
        (dropped.asin, False),
    ]
    assert view.subtotal_krw == 2 * 30_790
    assert view.count == 5  # still in the cart
    assert [line.product.asin for line in view.checkout_lines] == [kept.asin]
    assert view.has_unavailable
    assert not view.can_checkout
    assert quantities(cart) == {kept.asin: 2, dropped.asin: 3}


def test_an_inactive_line_can_be_lowered_or_removed_but_not_raised(cart):
    product = ProductFactory()
    cart_add(cart=cart, product_id=product.pk, quantity=3)
    product.is_active = False
    product.save(update_fields=["is_active"])

    with pytest.raises(CartProductUnavailable):
        cart_set_quantity(cart=cart, product_id=product.pk, quantity=4)
    with pytest.raises(CartProductUnavailable):
        cart_add(cart=cart, product_id=product.pk)
    assert quantities(cart) == {product.asin: 3}
    cart_set_quantity(cart=cart, product_id=product.pk, quantity=1)
    assert quantities(cart) == {product.asin: 1}
    assert cart_remove(cart=cart, product_id=product.pk) is True
    assert quantities(cart) == {}


def test_inactive_lines_do_not_count_towards_a_class_limit(cart, classes):
    gone, other = product_of(classes, "supplements"), product_of(classes, "supplements")
    cart_add(cart=cart, product_id=gone.pk, quantity=5)
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    cart_add(cart=cart, product_id=other.pk, quantity=6)
    assert quantities(cart) == {gone.asin: 5, other.asin: 6}


# --- Set quantity and remove ------------------------------------------------------------------


def test_set_quantity_checks_the_limits_only_when_raising(cart, classes):
    vitamins = product_of(classes, "supplements")
    cart_add(cart=cart, product_id=vitamins.pk, quantity=5)
    cart_set_quantity(cart=cart, product_id=vitamins.pk, quantity=6)
    with pytest.raises(CartLimitExceeded) as refused:
        cart_set_quantity(cart=cart, product_id=vitamins.pk, quantity=7)
    assert "your cart already has 6" in refused.value.message
    assert quantities(cart) == {vitamins.asin: 6}

    # Staff tighten the limit: going down is always allowed, even while still over it.
    CustomsClass.objects.filter(code="supplements").update(max_quantity_per_order=2)
    cart_set_quantity(cart=cart, product_id=vitamins.pk, quantity=4)
    assert quantities(cart) == {vitamins.asin: 4}


def test_set_quantity_zero_removes_and_an_absent_line_is_an_error(cart):
    product, absent = ProductFactory(), ProductFactory()
    cart_add(cart=cart, product_id=product.pk, quantity=2)
    assert cart_set_quantity(cart=cart, product_id=product.pk, quantity=0) is None
    assert quantities(cart) == {}
    with pytest.raises(CartLineNotFound):
        cart_set_quantity(cart=cart, product_id=absent.pk, quantity=1)
    with pytest.raises(CartQuantityInvalid):
        cart_set_quantity(cart=cart, product_id=product.pk, quantity=-1)
    assert not CartLine.objects.exists()


def test_remove_is_idempotent_and_touches_only_its_cart(cart):
    product = ProductFactory()
    other_cart = cart_get_or_create_for_session(session_key="o" * 32)
    cart_add(cart=cart, product_id=product.pk)
    cart_add(cart=other_cart, product_id=product.pk, quantity=2)
    assert cart_remove(cart=cart, product_id=product.pk) is True
    assert cart_remove(cart=cart, product_id=product.pk) is False
    assert quantities(other_cart) == {product.asin: 2}


def test_carts_are_one_per_customer_and_one_per_session(django_user_model):
    user = django_user_model.objects.create_user(username="mina", password="unused-pw-123")
    assert cart_get_or_create_for_customer(customer=user) == cart_get_or_create_for_customer(
        customer=user
    )
    assert cart_get_or_create_for_session(session_key="k" * 32) == cart_get_or_create_for_session(
        session_key="k" * 32
    )
    assert Cart.objects.count() == 2


@pytest.mark.postgres
@pytest.mark.parametrize("write", ["add", "set", "remove", "merge"])
def test_every_write_locks_the_cart_row_first(cart, customer_cart, write):
    product = ProductFactory()
    cart_add(cart=cart, product_id=product.pk)
    calls = {
        "add": lambda: cart_add(cart=cart, product_id=product.pk),
        "set": lambda: cart_set_quantity(cart=cart, product_id=product.pk, quantity=3),
        "remove": lambda: cart_remove(cart=cart, product_id=product.pk),
        "merge": lambda: cart_merge(source=cart, target=customer_cart),
    }
    with CaptureQueriesContext(connection) as queries:
        calls[write]()
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert '"orders_cart"' in statements[0]
    assert statements[0].rstrip().endswith("FOR UPDATE")


# --- Cart view ------------------------------------------------------------------------------


def test_cart_view_prices_lines_like_the_catalog_and_gives_the_promise(cart):
    category = CategoryFactory()
    local = ProductFactory(source_price_usd=Decimal("19.99"), category=category)
    abroad = ProductFactory(source_price_usd=Decimal("10.00"))
    StockFactory(product=local, warehouse=WarehouseFactory(code="icn"), on_hand=1)
    cart_add(cart=cart, product_id=local.pk, quantity=3)
    cart_add(cart=cart, product_id=abroad.pk, quantity=2)

    view = cart_view(cart=cart)

    first, second = view.lines
    assert (first.unit_price_krw, first.line_total_krw) == (30_790, 92_370)
    assert (second.unit_price_krw, second.line_total_krw) == (15_400, 30_800)
    assert view.subtotal_krw == 92_370 + 30_800
    assert view.count == 5
    assert first.domestic_available == 1
    assert (first.domestic_quantity, first.cross_border_quantity) == (1, 2)
    assert first.promise.domestic
    assert str(first.promise.label) == "Ships from Korea: arrives in 1–2 business days"
    assert not second.promise.domestic
    assert (second.domestic_quantity, second.cross_border_quantity) == (0, 2)
    assert str(second.promise.label) == "Ships from the US: arrives in 6–10 days"
    assert view.can_checkout
    assert cart_item_count(cart=cart) == 5


def test_cart_view_of_no_cart_is_empty():
    view = cart_view(cart=None)
    assert view.is_empty
    assert view.subtotal_krw == 0
    assert view.count == 0
    assert not view.can_checkout


@pytest.mark.parametrize("lines", [1, 5])
def test_cart_view_query_count_does_not_depend_on_the_lines(cart, lines, django_assert_num_queries):
    warehouse = WarehouseFactory(code="icn")
    for product in ProductFactory.create_batch(lines, category=CategoryFactory()):
        StockFactory(product=product, warehouse=warehouse)
        cart_add(cart=cart, product_id=product.pk)
    with django_assert_num_queries(3):  # FX rate (then cached), lines, domestic stock
        view = cart_view(cart=cart)
        for line in view.lines:
            assert line.product.category.name
            assert line.product.customs_class.code
    assert len(view.lines) == lines


def test_product_id_for_asin_ignores_case_and_rejects_malformed_asins():
    product = ProductFactory(asin="B0ABCDEF12")
    assert cart_product_id_for_asin(asin=" b0abcdef12 ") == product.pk
    assert cart_product_id_for_asin(asin="B0") is None
    assert cart_product_id_for_asin(asin="B0ZZZZZZZZ") is None


# --- Merge ------------------------------------------------------------------------------------


@pytest.fixture
def customer_cart(django_user_model) -> Cart:
    user = django_user_model.objects.create_user(username="jisoo", password="unused-pw-123")
    return cart_get_or_create_for_customer(customer=user)


def test_merge_adds_quantities_and_deletes_the_session_cart(cart, customer_cart):
    both, only_session, only_customer = ProductFactory.create_batch(3)
    cart_add(cart=cart, product_id=both.pk, quantity=2)
    cart_add(cart=cart, product_id=only_session.pk, quantity=1)
    cart_add(cart=customer_cart, product_id=both.pk, quantity=3)
    cart_add(cart=customer_cart, product_id=only_customer.pk, quantity=4)

    result = cart_merge(source=cart, target=customer_cart)

    assert result.adjustments == ()
    assert quantities(customer_cart) == {both.asin: 5, only_session.asin: 1, only_customer.asin: 4}
    assert not Cart.objects.filter(pk=cart.pk).exists()
    assert CartLine.objects.filter(cart_id=cart.pk).count() == 0


def test_merge_caps_at_the_limits_and_reports_the_lines_cut(cart, customer_cart, classes):
    vitamins, fish_oil = product_of(classes, "supplements"), product_of(classes, "supplements")
    tv = product_of(classes, "electronics", title="Television 55 inch")
    socks = product_of(classes, "other", title="Socks")
    cart_add(cart=cart, product_id=vitamins.pk, quantity=4)
    cart_add(cart=cart, product_id=tv.pk, quantity=1)
    cart_add(cart=cart, product_id=socks.pk, quantity=15)
    cart_add(cart=customer_cart, product_id=fish_oil.pk, quantity=3)
    cart_add(cart=customer_cart, product_id=tv.pk, quantity=1)
    cart_add(cart=customer_cart, product_id=socks.pk, quantity=10)

    result = cart_merge(source=cart, target=customer_cart)

    assert quantities(customer_cart) == {
        fish_oil.asin: 3,  # never reduced
        vitamins.asin: 3,  # 6 per order for supplements
        tv.asin: 1,  # one per model
        socks.asin: 20,  # the line maximum
    }
    cut = {a.product_id: (a.requested, a.merged) for a in result.adjustments}
    assert cut == {vitamins.pk: (4, 3), tv.pk: (2, 1), socks.pk: (25, 20)}
    messages = {a.product_id: a.message for a in result.adjustments}
    assert "customs limits health supplements for personal use" in messages[vitamins.pk]
    assert "the most of one product in an order" in messages[socks.pk]
    assert not Cart.objects.filter(pk=cart.pk).exists()


def test_merge_drops_products_no_longer_sold_and_respects_the_line_count(
    cart, customer_cart, settings
):
    gone, kept, extra = ProductFactory.create_batch(3)
    cart_add(cart=cart, product_id=gone.pk)
    cart_add(cart=cart, product_id=kept.pk)
    cart_add(cart=cart, product_id=extra.pk)
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    settings.CART_MAX_LINES = 1

    result = cart_merge(source=cart, target=customer_cart)

    assert quantities(customer_cart) == {kept.asin: 1}
    cut = {a.product_id: (a.requested, a.merged) for a in result.adjustments}
    assert cut == {gone.pk: (1, 0), extra.pk: (1, 0)}
    assert "no longer available" in next(a.message for a in result.adjustments)


def test_merging_a_cart_merged_already_is_a_no_op(cart, customer_cart):
    product = ProductFactory()
    cart_add(cart=cart, product_id=product.pk, quantity=2)
    cart_merge(source=cart, target=customer_cart)
    result = cart_merge(source=cart, target=customer_cart)
    assert result.adjustments == ()
    assert quantities(customer_cart) == {product.asin: 2}


# --- Concurrency (PostgreSQL) --------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_adds_to_one_cart_never_pass_the_limit(customs_seed):
    """Eight requests each add 4 supplements (different products) to the same cart at once:
    the cart lock runs them one after the other, so exactly one gets in."""
    supplements = CustomsClass.objects.get(code="supplements")
    products = ProductFactory.create_batch(8, customs_class=supplements)
    cart = cart_get_or_create_for_session(session_key="c" * 32)
    start = threading.Barrier(len(products))
    outcomes: list[str] = []

    def add(product_id: int) -> None:
        try:
            start.wait(timeout=30)
            cart_add(cart=cart, product_id=product_id, quantity=4)
            outcomes.append("added")
        except CartLimitExceeded:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=add, args=(p.pk,)) for p in products]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["added"] + ["refused"] * 7
    assert cart_item_count(cart=cart) == 4
