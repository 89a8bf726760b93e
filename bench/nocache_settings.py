"""Settings for ``python -m bench.run --no-page-cache``: production settings with the
catalog's page and product-card cache off (``CATALOG_PAGE_CACHE_SECONDS = 0``), to measure
what the pages cost when every request renders (the "uncached" figures)."""

from storefront.settings import *  # noqa: F403

CATALOG_PAGE_CACHE_SECONDS = 0
