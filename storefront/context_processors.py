"""Template context shared by every shopper page."""

from django.http import HttpRequest

from catalog import selectors as catalog_selectors


def site(request: HttpRequest) -> dict:
    """The top-level categories for the header navigation (cached; see the selector)."""
    return {"nav_categories": catalog_selectors.category_roots()}
