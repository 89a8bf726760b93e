"""Template context for every shopper page: the cart's item count for the header."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from .cart_session import CART_COUNT_SESSION_KEY


def cart(request: HttpRequest) -> dict:
    """``cart_count``: the number of items in the cart, read from the session where cart
    changes store it, never from the cart tables. Without a session cookie there is no
    cart to count and the session is not touched; with one, it is read only if the page
    shows the count."""
    if settings.SESSION_COOKIE_NAME not in request.COOKIES or not hasattr(request, "session"):
        return {"cart_count": 0}
    return {"cart_count": SimpleLazyObject(lambda: request.session.get(CART_COUNT_SESSION_KEY, 0))}
