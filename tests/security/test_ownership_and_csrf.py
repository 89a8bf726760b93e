"""Every shopper URL and partner-API endpoint, enumerated from the URLconf (a new one is
covered, or fails until its keyword is classified): requested by another shopper or partner
with someone else's order number or address id it is a 404 (never a 200) and changes
nothing; every shopper POST without a CSRF token is refused with 403, and the partner API
ignores session cookies (no CSRF exposure)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from orders.models import Address, Order, OrderStatusChange
from tests.factories import OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db

# Keywords naming something a shopper or partner owns, and what is public by design (the
# catalog, password-reset links carrying their own proof).
OWNED = {"number", "address_id"}
PUBLIC = {"asin", "slug", "uidb64", "token"}
# Not shopper pages: staff (own tests, staff login), framework plumbing.
SKIPPED_PREFIXES = ("admin/", "i18n/", "static/", "health/", "api/schema/", "api/docs/")
# Stripe calls it without a session; the signature is its proof (tests/orders).
CSRF_EXEMPT_BY_DESIGN = {"orders:stripe-webhook"}


@dataclass(frozen=True)
class Route:
    name: str  # namespaced
    route: str
    kwargs: frozenset[str]

    @property
    def is_api(self) -> bool:
        return self.route.startswith("api/")


def routes() -> list[Route]:
    found = []

    def walk(patterns, prefix: str, namespace: str) -> None:
        for entry in patterns:
            text = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                ns = entry.namespace
                walk(entry.url_patterns, text, f"{namespace}{ns}:" if ns else namespace)
            elif isinstance(entry, URLPattern) and entry.name:
                if text.startswith(SKIPPED_PREFIXES):
                    continue
                converters = getattr(entry.pattern, "converters", {})
                names = set(converters) or set(entry.pattern.regex.groupindex)
                found.append(Route(f"{namespace}{entry.name}", text, frozenset(names)))

    walk(get_resolver().url_patterns, "", "")
    return found


def test_every_url_keyword_is_classified():
    unknown = {(r.route, k) for r in routes() for k in r.kwargs if k not in OWNED | PUBLIC}
    assert not unknown, f"classify these URL keywords as owned or public: {sorted(unknown)}"
    owned = {r.name for r in routes() if r.kwargs & OWNED}
    # The enumeration really finds the pages this test is about.
    assert {"orders:detail", "orders:pay", "orders:cancel", "orders:address-edit"} <= owned
    assert {"api:v1:order-detail", "api:v1:order-cancel"} <= owned


@pytest.fixture
def two_shoppers(django_user_model):
    me = django_user_model.objects.create_user("me@example.com", email="me@example.com")
    other = django_user_model.objects.create_user("them@example.com", email="them@example.com")
    their_order = OrderFactory(customer=other)
    their_address = Address.objects.create(
        customer=other,
        recipient_name="김철수",
        phone="+821098765432",
        postal_code="06236",
        road_address="서울특별시 강남구 테헤란로 152",
    )
    return me, their_order, their_address


def unchanged(order: Order, address: Address, address_before: dict) -> None:
    order_before = (order.status, order.total_krw)
    order.refresh_from_db()
    assert (order.status, order.total_krw) == order_before
    assert not OrderStatusChange.objects.filter(order=order).exists()
    after = Address.objects.filter(pk=address.pk).values().first()
    assert after == address_before


def test_shopper_urls_with_someone_elses_ids_are_404(client, two_shoppers):
    me, their_order, their_address = two_shoppers
    client.force_login(me)
    address_before = Address.objects.filter(pk=their_address.pk).values().first()
    values = {"number": their_order.number, "address_id": their_address.pk}
    checked = []
    for route in routes():
        if route.is_api or not route.kwargs & OWNED:
            continue
        url = reverse(route.name, kwargs={k: values[k] for k in route.kwargs})
        statuses = {
            "get": client.get(url).status_code,
            "post": client.post(url, {"recipient_name": "x", "is_default": "on"}).status_code,
        }
        assert 200 not in statuses.values(), (route.name, statuses)
        # 404, or 405 where the method is not served at all (same for any id).
        assert set(statuses.values()) <= {404, 405}, (route.name, statuses)
        assert 404 in statuses.values(), (route.name, statuses)
        checked.append(route.name)
    unchanged(their_order, their_address, address_before)
    assert len(checked) >= 7


def test_partner_api_with_another_partners_order_is_404(api_client, partner, other_partner):
    theirs = OrderFactory(partner=other_partner, partner_reference="theirs-1")
    client = api_client(partner)
    checked = []
    for route in routes():
        if not route.is_api or not route.kwargs & OWNED:
            continue
        url = reverse(route.name, kwargs={"number": theirs.number})
        statuses = {
            "get": client.get(url).status_code,
            "post": client.post(
                url, {}, format="json", HTTP_IDEMPOTENCY_KEY=f"idor-{route.name}"
            ).status_code,
        }
        assert not {200, 201} & set(statuses.values()), (route.name, statuses)
        assert set(statuses.values()) <= {404, 405}, (route.name, statuses)
        assert 404 in statuses.values(), (route.name, statuses)
        checked.append(route.name)
    theirs.refresh_from_db()
    assert theirs.status == Order.Status.PENDING_PAYMENT
    assert len(checked) >= 3
    # The shopper's own orders are not the partner's either.
    shop_order = OrderFactory()
    response = client.get(reverse("api:v1:order-detail", kwargs={"number": shop_order.number}))
    assert response.status_code == 404


def test_every_shopper_post_without_a_csrf_token_is_refused(django_user_model):
    me = django_user_model.objects.create_user("me@example.com", email="me@example.com")
    mine = OrderFactory(customer=me)
    address = Address.objects.create(
        customer=me,
        recipient_name="홍길동",
        phone="+821012345678",
        postal_code="06236",
        road_address="서울특별시 강남구 테헤란로 152",
    )
    product = ProductFactory()
    values = {
        "number": mine.number,
        "address_id": address.pk,
        "asin": product.asin,
        "slug": "anything",
        "uidb64": "MQ",
        "token": "set-password",
    }
    for logged_in in (True, False):
        client = Client(enforce_csrf_checks=True)
        if logged_in:
            client.force_login(me)
        refused = []
        for route in routes():
            if route.is_api or route.name in CSRF_EXEMPT_BY_DESIGN:
                continue
            url = reverse(route.name, kwargs={k: values[k] for k in route.kwargs})
            response = client.post(url, {"product": product.asin, "quantity": 1})
            assert response.status_code == 403, (route.name, logged_in, response.status_code)
            refused.append(route.name)
        assert {"orders:checkout", "orders:cart-add", "accounts:login", "orders:cancel"} <= set(
            refused
        )
    mine.refresh_from_db()
    assert mine.status == Order.Status.PENDING_PAYMENT
    assert Address.objects.filter(pk=address.pk).exists()


def test_the_partner_api_does_not_accept_a_session_cookie(django_user_model):
    """No CSRF exposure on the API: a logged-in browser session gets nothing there."""
    user = django_user_model.objects.create_user(
        "boss", email="boss@example.com", is_staff=True, is_superuser=True
    )
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get("/api/v1/orders/").status_code == 401
    assert client.post("/api/v1/orders/", {}, content_type="application/json").status_code == 401
    assert not Order.objects.exists()
