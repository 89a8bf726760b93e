"""Template context shared by every shopper page."""

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from catalog import selectors as catalog_selectors


def site(request: HttpRequest) -> dict:
    """The top-level categories for the header navigation (cached; see the selector).
    Lazy, so pages that do not show the navigation (admin) never look them up."""
    return {"nav_categories": SimpleLazyObject(catalog_selectors.category_nav_links)}
