"""Shopper pages: cart.

``/cart/`` shows the cart; ``add``, ``update`` and ``remove`` are POST forms that change it
through ``orders.services.carts`` and come back with a message. A refused change changes
nothing and says why (the personal-use customs limits, a product no longer sold).
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from storefront.errors import ApplicationError

from .. import cart_session
from ..selectors import carts as cart_selectors
from ..services import carts as cart_services

CHECKOUT_PATH = "/checkout/"


def _quantity(request: HttpRequest, *, default: int | None = None) -> int | None:
    """The posted quantity as an int, or ``None`` when it is not a whole number."""
    raw = request.POST.get("quantity", "").strip()
    if raw == "" and default is not None:
        return default
    try:
        return int(raw)
    except ValueError:
        return None


def _back(request: HttpRequest) -> HttpResponseRedirect:
    """Back to the page the form was on when ``next`` is a local URL, else the cart."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return HttpResponseRedirect(target)
    return redirect("orders:cart")


@require_safe
def cart(request: HttpRequest) -> HttpResponse:
    """The cart: lines with price, quantity and delivery promise, flagged lines that can no
    longer be bought, the subtotal and the way to checkout."""
    view = cart_selectors.cart_view(cart=cart_session.cart_for_request(request, create=False))
    cart_session.cart_count_store(request, view.count)
    return render(request, "orders/cart.html", {"cart": view, "checkout_url": CHECKOUT_PATH})


@require_POST
def cart_add(request: HttpRequest) -> HttpResponse:
    """Add ``quantity`` (default 1) of the product with ASIN ``product``."""
    product_id = cart_selectors.cart_product_id_for_asin(asin=request.POST.get("product", ""))
    quantity = _quantity(request, default=1)
    if product_id is None:
        messages.error(request, _("Sorry, this product is no longer available."))
        return _back(request)
    if quantity is None or quantity < 1:
        messages.error(request, _("Choose a quantity of at least 1."))
        return _back(request)
    had_cart = cart_session.cart_for_request(request, create=False)
    cart = had_cart or cart_session.cart_for_request(request, create=True)
    try:
        line = cart_services.cart_add(cart=cart, product_id=product_id, quantity=quantity)
    except ApplicationError as exc:
        if had_cart is None:
            cart_session.cart_forget_if_empty(request, cart=cart)
        messages.error(request, exc.message)
        return _back(request)
    cart_session.cart_count_refresh(request)
    messages.success(
        request,
        _("Added to your cart: %(title)s (%(count)s in your cart).")
        % {"title": line.product.title[:80], "count": line.quantity},
    )
    return _back(request)


@require_POST
def cart_update(request: HttpRequest) -> HttpResponse:
    """Set the quantity of one line (product ASIN ``product``); 0 removes it."""
    cart = cart_session.cart_for_request(request, create=False)
    product_id = cart_selectors.cart_product_id_for_asin(asin=request.POST.get("product", ""))
    quantity = _quantity(request)
    if cart is None or product_id is None:
        messages.error(request, _("This product is not in your cart any more."))
        return redirect("orders:cart")
    if quantity is None or quantity < 0:
        messages.error(request, _("Choose a quantity of 0 or more."))
        return redirect("orders:cart")
    try:
        line = cart_services.cart_set_quantity(cart=cart, product_id=product_id, quantity=quantity)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("orders:cart")
    cart_session.cart_count_refresh(request)
    if line is None:
        messages.success(request, _("Removed from your cart."))
    else:
        messages.success(request, _("Your cart was updated."))
    return redirect("orders:cart")


@require_POST
def cart_remove(request: HttpRequest) -> HttpResponse:
    """Remove one line (product ASIN ``product``). Removing what is not there is harmless."""
    cart = cart_session.cart_for_request(request, create=False)
    product_id = cart_selectors.cart_product_id_for_asin(asin=request.POST.get("product", ""))
    if cart is not None and product_id is not None:
        if cart_services.cart_remove(cart=cart, product_id=product_id):
            messages.success(request, _("Removed from your cart."))
        cart_session.cart_count_refresh(request)
    return redirect(reverse("orders:cart"))


urlpatterns: list[URLPattern] = [
    path("cart/", cart, name="cart"),
    path("cart/add/", cart_add, name="cart-add"),
    path("cart/update/", cart_update, name="cart-update"),
    path("cart/remove/", cart_remove, name="cart-remove"),
]
