"""The checkout page with membership points: the discount offered, the box that turns it
on or off, the server's recomputation at placement, and ordering without points when the
carrier does not answer."""

from __future__ import annotations

import pytest
from django.urls import reverse

from membership.models import PointHold
from orders.models import CartLine, Order

from .conftest import VIP

pytestmark = pytest.mark.django_db

NEW_ADDRESS = {
    "address": "new",
    "new-recipient_name": "홍길동",
    "new-phone": "010-1234-5678",
    "new-postal_code": "06236",
    "new-road_address": "서울특별시 강남구 테헤란로 152",
}


@pytest.fixture
def browsing(client, shopper):
    client.force_login(shopper)
    client.cookies["django_language"] = "en"
    return client


def form_of(page) -> dict:
    form = page.context["form"]
    return {
        **NEW_ADDRESS,
        "expected_total_krw": form.initial["expected_total_krw"],
        "expected_discount_krw": form.initial["expected_discount_krw"],
    }


def test_a_linked_shopper_sees_the_discount_ticked(browsing, shopper, link, product, cart_for):
    link(shopper, VIP, balance=80_000)
    cart_for(shopper, product, 2)

    page = browsing.get(reverse("orders:checkout"))

    body = page.content.decode()
    assert page.context["offer"].points == 30_800
    assert 'name="use_points"' in body
    assert "checked" in body.split('name="use_points"')[1].split(">")[0]
    assert page.context["quote"].discount_krw == 30_800
    assert (
        page.context["quote"].total_krw == page.context["quote_without_points"].total_krw - 30_800
    )
    assert "−₩30,800" in body


def test_placing_with_the_box_ticked_holds_and_discounts(
    browsing, shopper, link, product, cart_for, carrier_points, stripe_local
):
    link(shopper, VIP, balance=80_000)
    cart_for(shopper, product, 2)
    page = browsing.get(reverse("orders:checkout"))

    response = browsing.post(reverse("orders:checkout"), {**form_of(page), "use_points": "on"})

    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("orders:pay", args=[order.number])
    assert order.discount_krw == 30_800
    assert order.payments.get().amount_krw == order.total_krw
    assert PointHold.objects.get(order=order).status == "held"
    assert carrier_points.state("carrier")["members"][VIP[0]]["held"] == 30_800


def test_placing_with_the_box_unticked_uses_no_points(
    browsing, shopper, link, product, cart_for, carrier_points, stripe_local
):
    link(shopper, VIP, balance=80_000)
    cart_for(shopper, product, 2)
    page = browsing.get(reverse("orders:checkout"))

    browsing.post(reverse("orders:checkout"), form_of(page))  # no use_points

    order = Order.objects.get()
    assert order.discount_krw == 0
    assert order.total_krw == page.context["quote_without_points"].total_krw
    assert not PointHold.objects.exists()
    assert carrier_points.state("carrier")["members"][VIP[0]]["held"] == 0


def test_carrier_down_offers_the_order_without_points(
    browsing, shopper, link, product, cart_for, carrier_points, stripe_local
):
    link(shopper, VIP, balance=80_000)
    cart_for(shopper, product, 2)
    page = browsing.get(reverse("orders:checkout"))
    carrier_points.faults("carrier", fail_next=6)  # hold and its void both fail

    response = browsing.post(reverse("orders:checkout"), {**form_of(page), "use_points": "on"})

    assert response.status_code == 200
    assert not Order.objects.exists()
    body = response.content.decode()
    assert "not answering" in body
    assert "checked" not in body.split('name="use_points"')[1].split(">")[0]
    assert response.context["quote"].discount_krw == 0  # the total shown is without points
    # Submitting the page as shown places the order without points.
    carrier_points.faults("carrier", fail_next=0)
    retry = {**form_of(page)}
    response = browsing.post(reverse("orders:checkout"), retry)
    order = Order.objects.get()
    assert response.status_code == 302
    assert order.discount_krw == 0
    assert PointHold.objects.filter(status__in=["held", "captured"]).count() == 0


def test_a_changed_discount_is_shown_again_and_nothing_placed(
    browsing, shopper, link, product, cart_for, carrier_points
):
    link(shopper, VIP, balance=80_000)
    cart_for(shopper, product, 2)
    page = browsing.get(reverse("orders:checkout"))
    stale = {**form_of(page), "use_points": "on", "expected_discount_krw": 40_000}

    response = browsing.post(reverse("orders:checkout"), stale)

    assert response.status_code == 302
    assert response["Location"] == reverse("orders:checkout")
    assert not Order.objects.exists()
    assert not PointHold.objects.filter(status__in=PointHold.LIVE).exists()
    assert carrier_points.state("carrier")["holds"] == {}


def test_the_second_order_of_the_day_gets_no_discount(
    browsing, shopper, link, product, cart_for, carrier_points, stripe_local
):
    link(shopper, VIP, balance=80_000)
    cart_for(shopper, product, 1)
    page = browsing.get(reverse("orders:checkout"))
    browsing.post(reverse("orders:checkout"), {**form_of(page), "use_points": "on"})
    assert Order.objects.get().discount_krw == 15_400
    CartLine.objects.create(cart=shopper.cart, product=product, quantity=1)  # emptied by it

    page = browsing.get(reverse("orders:checkout"))

    body = page.content.decode()
    assert page.context["offer"].reason == "used_today"
    assert 'name="use_points"' not in body
    assert "already used your membership discount today" in body
    assert page.context["quote"].discount_krw == 0


def test_a_shopper_without_a_link_is_invited_to_link(browsing, shopper, product, cart_for):
    cart_for(shopper, product, 1)
    page = browsing.get(reverse("orders:checkout"))
    body = page.content.decode()
    assert 'name="use_points"' not in body
    assert reverse("membership:membership") in body
