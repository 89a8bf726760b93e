"""Which cart a request means, and the item count the header shows.

A signed-in shopper has one cart (``Cart.customer``). An anonymous visitor's cart belongs to
the browser session: its id is kept in ``request.session["cart_id"]`` (session data lives
on the server, so a visitor cannot point it at someone else's cart). At sign-in the
session's cart is merged into the shopper's (``cart_merge_after_login``, connected to
``user_logged_in`` in ``OrdersConfig.ready``). ``request.session["cart_count"]`` holds the
number of items so the header shows it without a query; every cart change refreshes it.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest

from .models import Cart
from .selectors import carts as cart_selectors
from .services import carts as cart_services

CART_ID_SESSION_KEY = "cart_id"
CART_COUNT_SESSION_KEY = "cart_count"


def _customer(request: HttpRequest):
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user
    return None


def cart_for_request(request: HttpRequest, *, create: bool) -> Cart | None:
    """The request's cart: the signed-in shopper's, else the session's. With ``create``
    a missing cart is created (an anonymous one starts the session if need be); without
    it, ``None`` when there is none yet."""
    customer = _customer(request)
    if customer is not None:
        if create:
            return cart_services.cart_get_or_create_for_customer(customer=customer)
        return Cart.objects.filter(customer=customer).first()

    session = getattr(request, "session", None)
    if session is None:
        return None
    cart_id = session.get(CART_ID_SESSION_KEY)
    if cart_id is not None:
        cart = Cart.objects.filter(pk=cart_id, customer__isnull=True).first()
        if cart is not None:
            return cart
        del session[CART_ID_SESSION_KEY]  # the cart is gone (merged or cleaned up)
    if not create:
        return None
    if session.session_key is None:
        session.save()  # an anonymous cart is keyed by its session
    cart = cart_services.cart_get_or_create_for_session(session_key=session.session_key)
    session[CART_ID_SESSION_KEY] = cart.pk
    return cart


def cart_count_store(request: HttpRequest, count: int) -> None:
    """Remember the item count for the header (no session is started just to store 0)."""
    session = getattr(request, "session", None)
    if session is None:
        return
    if count == 0 and CART_COUNT_SESSION_KEY not in session:
        return
    if session.get(CART_COUNT_SESSION_KEY) != count:
        session[CART_COUNT_SESSION_KEY] = count


def cart_count_refresh(request: HttpRequest) -> int:
    """Count the items of the request's cart and store the number in the session for the
    header. Returns it."""
    count = cart_selectors.cart_item_count(cart=cart_for_request(request, create=False))
    cart_count_store(request, count)
    return count


def cart_forget_if_empty(request: HttpRequest, *, cart: Cart) -> None:
    """Undo creating an anonymous cart when the first add was refused: nothing stays
    behind, neither the row nor the session's pointer to it."""
    if cart.customer_id is None and cart_services.cart_delete_if_empty(cart=cart):
        session = getattr(request, "session", None)
        if session is not None and session.get(CART_ID_SESSION_KEY) == cart.pk:
            del session[CART_ID_SESSION_KEY]


def cart_merge_after_login(request: HttpRequest, user) -> list[cart_services.CartMergeAdjustment]:
    """Move the anonymous session's cart into ``user``'s cart and tell the shopper about
    any line the limits cut down. Sign-in keeps the session data (only its key changes),
    so the anonymous cart's id is still in the session. Without a session cart (an admin
    signing in, a second sign-in) nothing is merged or created; the count is refreshed."""
    session = getattr(request, "session", None)
    if session is None:
        return []
    adjustments: list[cart_services.CartMergeAdjustment] = []
    source_id = session.pop(CART_ID_SESSION_KEY, None)
    source = (
        Cart.objects.filter(pk=source_id, customer__isnull=True).first()
        if source_id is not None
        else None
    )
    if source is not None:
        if source.lines.exists():
            target = cart_services.cart_get_or_create_for_customer(customer=user)
            result = cart_services.cart_merge(source=source, target=target)
            adjustments = list(result.adjustments)
            for adjustment in adjustments:
                messages.warning(request, adjustment.message, fail_silently=True)
        else:
            cart_services.cart_delete_if_empty(cart=source)
    count = cart_selectors.cart_item_count(cart=Cart.objects.filter(customer=user).first())
    cart_count_store(request, count)
    return adjustments


def cart_merge_on_login(sender, request: HttpRequest | None = None, user=None, **kwargs) -> None:
    """``user_logged_in`` receiver: a thin call to ``cart_merge_after_login`` (a login
    without a request, as some tools send, has no session cart to merge)."""
    if request is None or user is None:
        return
    cart_merge_after_login(request, user)
