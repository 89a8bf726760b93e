"""Cart pages: add from the product page, update, remove, the cart page itself (prices,
promise, flagged lines, query count), the count in the session and the header, carts kept
apart per session, and the merge at sign-in.

Prices: selling rate 1400 and a 10% margin, so USD 19.99 → ₩30,790.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.signals import user_logged_in
from django.contrib.messages import get_messages
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.cache import cache
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import translation

from catalog.models import CustomsClass, ExchangeRate
from orders import cart_session
from orders.context_processors import cart as cart_context
from orders.models import Cart, CartLine
from orders.services.carts import cart_add, cart_get_or_create_for_customer
from tests.factories import (
    CategoryFactory,
    ExchangeRateFactory,
    ProductFactory,
    StockFactory,
    WarehouseFactory,
)

pytestmark = pytest.mark.django_db

CART_URL = reverse("orders:cart")
ADD_URL = reverse("orders:cart-add")
UPDATE_URL = reverse("orders:cart-update")
REMOVE_URL = reverse("orders:cart-remove")


@pytest.fixture(autouse=True)
def selling_rate(settings):
    settings.PRICE_MARGIN = Decimal("0.10")
    settings.CART_MAX_LINE_QUANTITY = 20
    settings.CART_MAX_LINES = 50
    return ExchangeRateFactory(kind=ExchangeRate.Kind.SELLING, rate=Decimal("1400"))


@pytest.fixture
def client():
    """An English-speaking shopper (messages are asserted in English)."""
    browser = Client()
    browser.cookies["django_language"] = "en"
    return browser


@pytest.fixture
def supplements(customs_seed) -> CustomsClass:
    return CustomsClass.objects.get(code="supplements")


def add(client, product, quantity: int = 1) -> None:
    """Set-up: add to the cart and read the page it returns to (its messages consumed)."""
    response = client.post(
        ADD_URL, {"product": product.asin, "quantity": str(quantity)}, follow=True
    )
    assert response.status_code == 200


def flash(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def lines_of(cart: Cart | None) -> dict[str, int]:
    if cart is None:
        return {}
    return {
        line.product.asin: line.quantity
        for line in CartLine.objects.filter(cart=cart).select_related("product")
    }


def session_cart(client) -> Cart | None:
    cart_id = client.session.get("cart_id")
    return Cart.objects.filter(pk=cart_id).first() if cart_id else None


# --- Add ------------------------------------------------------------------------------------


def test_product_page_has_an_add_to_cart_form(client):
    product = ProductFactory()
    html = client.get(product.get_absolute_url()).content.decode()
    assert f'action="{ADD_URL}"' in html
    assert f'name="product" value="{product.asin}"' in html
    assert 'name="quantity"' in html


def test_add_from_the_product_page_goes_back_there_with_a_message(client):
    product = ProductFactory(title="Wooden puzzle")
    page = product.get_absolute_url()

    response = client.post(ADD_URL, {"product": product.asin, "quantity": "2", "next": page})

    assert response.status_code == 302
    assert response["Location"] == page
    assert flash(response) == ["Added to your cart: Wooden puzzle (2 in your cart)."]
    assert lines_of(session_cart(client)) == {product.asin: 2}
    assert client.session["cart_count"] == 2
    assert session_cart(client).session_key == client.session.session_key


def test_add_without_next_or_with_a_foreign_next_goes_to_the_cart(client):
    product = ProductFactory()
    response = client.post(ADD_URL, {"product": product.asin.lower()})
    assert response["Location"] == CART_URL
    response = client.post(ADD_URL, {"product": product.asin, "next": "https://evil.example/"})
    assert response["Location"] == CART_URL
    assert lines_of(session_cart(client)) == {product.asin: 2}


def test_add_over_the_customs_limit_says_why_and_changes_nothing(client, supplements):
    first, second = ProductFactory.create_batch(2, customs_class=supplements)
    add(client, first, 4)

    response = client.post(ADD_URL, {"product": second.asin, "quantity": "3"}, follow=True)

    html = response.content.decode()
    assert (
        "Customs allows at most 6 health supplements per order for personal use; your cart "
        "already has 4. You can add 2 more." in html
    )
    assert lines_of(session_cart(client)) == {first.asin: 4}
    assert client.session["cart_count"] == 4


def test_a_refused_first_add_leaves_no_cart_behind(client, customs_seed):
    laptop = ProductFactory(customs_class=CustomsClass.objects.get(code="computers"))
    response = client.post(ADD_URL, {"product": laptop.asin, "quantity": "2"})
    assert response["Location"] == CART_URL
    assert flash(response) == [
        "Customs allows only one unit per computers, phones and cameras model in an order "
        "for personal use."
    ]
    assert not Cart.objects.exists()
    assert "cart_id" not in client.session


@pytest.mark.parametrize(
    ("product", "quantity", "message"),
    [
        ("inactive", "1", "Sorry, this product is no longer available."),
        ("unknown", "1", "Sorry, this product is no longer available."),
        ("active", "0", "Choose a quantity of at least 1."),
        ("active", "two", "Choose a quantity of at least 1."),
    ],
)
def test_add_refusals_are_messages_and_create_nothing(client, product, quantity, message):
    asins = {
        "inactive": ProductFactory(is_active=False).asin,
        "unknown": "B0NOTHERE0",
        "active": ProductFactory().asin,
    }
    response = client.post(ADD_URL, {"product": asins[product], "quantity": quantity})
    assert flash(response) == [message]
    assert not Cart.objects.exists()
    assert not CartLine.objects.exists()


def test_cart_forms_only_accept_post(client):
    assert client.get(ADD_URL).status_code == 405
    assert client.get(UPDATE_URL).status_code == 405
    assert client.get(REMOVE_URL).status_code == 405


# --- Cart page ------------------------------------------------------------------------------


def test_empty_cart_page(client):
    response = client.get(CART_URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Your cart is empty." in html
    assert "/checkout/" not in html
    assert not Cart.objects.exists()


def test_cart_page_shows_lines_prices_promise_and_checkout(client):
    local = ProductFactory(
        title="Jigsaw puzzle",
        source_price_usd=Decimal("19.99"),
        image_urls=["https://m.media-amazon.com/p.jpg"],
    )
    StockFactory(product=local, warehouse=WarehouseFactory(code="icn"), on_hand=5)
    abroad = ProductFactory(title="Board game", source_price_usd=Decimal("10.00"))
    add(client, local, 2)
    add(client, abroad)

    html = client.get(CART_URL).content.decode()

    assert 'src="https://m.media-amazon.com/p.jpg"' in html
    assert f'href="{local.get_absolute_url()}"' in html
    assert "₩30,790" in html
    assert "₩61,580 for 2" in html
    assert "₩15,400" in html
    assert "₩76,980" in html  # subtotal
    assert "Ships from Korea: arrives in 1–2 business days" in html
    assert "Ships from the US: arrives in 6–10 days" in html
    assert 'href="/checkout/"' in html
    assert html.count(f'action="{UPDATE_URL}"') == 2
    assert html.count(f'action="{REMOVE_URL}"') == 2


def test_a_product_no_longer_sold_is_flagged_and_blocks_checkout(client):
    kept = ProductFactory(source_price_usd=Decimal("19.99"))
    gone = ProductFactory(title="Discontinued kite", source_price_usd=Decimal("10.00"))
    add(client, kept)
    add(client, gone, 3)
    gone.is_active = False
    gone.save(update_fields=["is_active"])

    response = client.get(CART_URL)

    html = response.content.decode()
    assert "Discontinued kite" in html
    assert "This product is no longer available — remove it to continue." in html
    assert f'href="{gone.get_absolute_url()}"' not in html
    assert response.context["cart"].subtotal_krw == 30_790
    assert 'href="/checkout/"' not in html

    client.post(REMOVE_URL, {"product": gone.asin})
    html = client.get(CART_URL).content.decode()
    assert 'href="/checkout/"' in html
    assert client.session["cart_count"] == 1


@pytest.mark.parametrize("lines", [1, 5])
def test_cart_page_query_count_does_not_depend_on_the_lines(
    client, lines, django_assert_num_queries
):
    warehouse = WarehouseFactory(code="icn")
    for product in ProductFactory.create_batch(lines, category=CategoryFactory()):
        StockFactory(product=product, warehouse=warehouse)
        add(client, product)
    cache.clear()
    # session, cart, FX rate, lines, domestic stock, header categories (the last two cached)
    with django_assert_num_queries(6):
        response = client.get(CART_URL)
    assert len(response.context["cart"].lines) == lines


# --- Update and remove ------------------------------------------------------------------------


def test_update_sets_a_quantity_and_zero_removes(client):
    product = ProductFactory()
    add(client, product)

    response = client.post(UPDATE_URL, {"product": product.asin, "quantity": "4"})
    assert response["Location"] == CART_URL
    assert flash(response) == ["Your cart was updated."]
    assert lines_of(session_cart(client)) == {product.asin: 4}
    assert client.session["cart_count"] == 4
    client.get(CART_URL)  # the message is shown

    response = client.post(UPDATE_URL, {"product": product.asin, "quantity": "0"})
    assert flash(response) == ["Removed from your cart."]
    assert lines_of(session_cart(client)) == {}
    assert client.session["cart_count"] == 0


def test_update_over_a_limit_is_refused_with_the_reason(client, customs_seed):
    tv = ProductFactory(customs_class=CustomsClass.objects.get(code="electronics"))
    add(client, tv)
    response = client.post(UPDATE_URL, {"product": tv.asin, "quantity": "2"})
    assert flash(response) == [
        "Customs allows only one unit per small appliances and TVs model in an order for "
        "personal use. Your cart already has 1."
    ]
    assert lines_of(session_cart(client)) == {tv.asin: 1}


@pytest.mark.parametrize("quantity", ["-1", "", "x"])
def test_update_with_a_bad_quantity_changes_nothing(client, quantity):
    product = ProductFactory()
    add(client, product, 2)
    response = client.post(UPDATE_URL, {"product": product.asin, "quantity": quantity})
    assert flash(response) == ["Choose a quantity of 0 or more."]
    assert lines_of(session_cart(client)) == {product.asin: 2}


def test_remove_takes_the_line_out(client):
    keep, drop = ProductFactory.create_batch(2)
    add(client, keep)
    add(client, drop, 2)
    response = client.post(REMOVE_URL, {"product": drop.asin})
    assert response["Location"] == CART_URL
    assert lines_of(session_cart(client)) == {keep.asin: 1}
    assert client.session["cart_count"] == 1


# --- Carts are per session ------------------------------------------------------------------


def test_another_session_cannot_see_or_change_a_cart(client):
    product = ProductFactory(title="Private kite")
    add(client, product, 2)
    stranger = Client()
    stranger.cookies["django_language"] = "en"

    html = stranger.get(CART_URL).content.decode()
    stranger.post(REMOVE_URL, {"product": product.asin})
    stranger.post(UPDATE_URL, {"product": product.asin, "quantity": "5"})

    assert "Your cart is empty." in html
    assert "Private kite" not in html
    assert lines_of(session_cart(client)) == {product.asin: 2}


def test_a_signed_in_shopper_has_one_cart_across_sessions(client, django_user_model):
    user = django_user_model.objects.create_user(username="mina", password="unused-pw-123")
    product = ProductFactory(title="Shared kite")
    client.force_login(user)
    add(client, product)

    other_device = Client()
    other_device.force_login(user)
    html = other_device.get(CART_URL).content.decode()

    assert "Shared kite" in html
    assert Cart.objects.get().customer == user
    assert "cart_id" not in client.session


# --- Count in the session and the header ------------------------------------------------------


def test_the_count_comes_from_the_session_never_the_cart(client, django_assert_num_queries):
    product = ProductFactory()
    add(client, product, 3)
    request = _browser_request(client)
    with django_assert_num_queries(0):
        context = cart_context(request)
    with django_assert_num_queries(1) as queries:  # the session, read when the page shows it
        assert context["cart_count"] == 3
    assert "orders_cart" not in queries.captured_queries[0]["sql"]


def test_no_session_cookie_means_no_session_access_and_zero(django_assert_num_queries):
    class Untouchable:
        def __getattr__(self, name):
            raise AssertionError("the session was touched")

    request = RequestFactory().get("/")
    request.session = Untouchable()
    with django_assert_num_queries(0):
        context = cart_context(request)
    assert context == {"cart_count": 0}


def test_the_header_shows_the_cart_count(client):
    product = ProductFactory()
    add(client, product, 3)
    response = client.get(reverse("home"))
    assert response.context["cart_count"] == 3
    assert '<span class="cart-count">3</span>' in response.content.decode()
    response = Client().get(reverse("home"))
    assert response.context["cart_count"] == 0
    assert '<span class="cart-count">0</span>' in response.content.decode()


# --- Merge at sign-in -------------------------------------------------------------------------


def test_sign_in_merges_the_session_cart_and_deletes_it(client, django_user_model):
    user = django_user_model.objects.create_user(username="jisoo", password="unused-pw-123")
    both, only_session = ProductFactory.create_batch(2)
    cart_add(cart=cart_get_or_create_for_customer(customer=user), product_id=both.pk, quantity=2)
    add(client, both, 3)
    add(client, only_session)
    anonymous = session_cart(client)

    client.force_login(user)

    assert not Cart.objects.filter(pk=anonymous.pk).exists()
    assert lines_of(Cart.objects.get(customer=user)) == {both.asin: 5, only_session.asin: 1}
    assert "cart_id" not in client.session
    assert client.session["cart_count"] == 6
    assert Cart.objects.count() == 1


def _browser_request(client) -> object:
    """A request as a view gets it, on the client's session, with messages."""
    request = RequestFactory().post("/account/login/")
    request.COOKIES = {name: morsel.value for name, morsel in client.cookies.items()}
    SessionMiddleware(lambda r: HttpResponse()).process_request(request)
    MessageMiddleware(lambda r: HttpResponse()).process_request(request)
    return request


def test_sign_in_caps_merged_lines_and_tells_the_shopper(client, django_user_model, supplements):
    user = django_user_model.objects.create_user(username="hana", password="unused-pw-123")
    vitamins, fish_oil = ProductFactory.create_batch(2, customs_class=supplements)
    cart_add(
        cart=cart_get_or_create_for_customer(customer=user), product_id=fish_oil.pk, quantity=4
    )
    add(client, vitamins, 4)
    request = _browser_request(client)
    request.user = user

    with translation.override("en"):
        user_logged_in.send(sender=user.__class__, request=request, user=user)

    assert lines_of(Cart.objects.get(customer=user)) == {fish_oil.asin: 4, vitamins.asin: 2}
    assert [str(m) for m in get_messages(request)] == [
        f"“{vitamins.title}”: your cart now has 2 of the 4 you chose, because customs limits "
        "health supplements for personal use."
    ]
    assert request.session["cart_count"] == 6
    assert Cart.objects.count() == 1


def test_logging_in_on_the_login_page_merges_and_shows_the_cut(
    client, django_user_model, supplements
):
    user = django_user_model.objects.create_user(
        username="yuna@example.com", email="yuna@example.com", password="unused-pw-123"
    )
    vitamins, fish_oil = ProductFactory.create_batch(2, customs_class=supplements)
    cart_add(
        cart=cart_get_or_create_for_customer(customer=user), product_id=fish_oil.pk, quantity=5
    )
    add(client, vitamins, 3)

    response = client.post(
        reverse("accounts:login"),
        {"email": "yuna@example.com", "password": "unused-pw-123", "next": CART_URL},
        follow=True,
    )

    assert response.redirect_chain[-1][0] == CART_URL
    html = response.content.decode()
    assert "your cart now has 1 of the 3 you chose" in html
    assert '<span class="cart-count">6</span>' in html
    assert lines_of(Cart.objects.get(customer=user)) == {fish_oil.asin: 5, vitamins.asin: 1}
    assert Cart.objects.count() == 1


def test_an_admin_signing_in_without_a_session_cart_creates_nothing(client, django_user_model):
    admin = django_user_model.objects.create_superuser(username="admin", password="unused-pw-1")
    client.force_login(admin)
    assert client.get(reverse("admin:index")).status_code == 200
    assert not Cart.objects.exists()
    assert "cart_count" not in client.session


def test_sign_in_without_a_request_is_ignored(django_user_model):
    user = django_user_model.objects.create_user(username="api", password="unused-pw-123")
    user_logged_in.send(sender=user.__class__, request=None, user=user)
    assert not Cart.objects.exists()


def test_cart_for_request_without_create_never_creates(client, django_user_model):
    request = _browser_request(client)
    request.user = django_user_model.objects.create_user(username="x", password="unused-pw-123")
    assert cart_session.cart_for_request(request, create=False) is None
    assert not Cart.objects.exists()
