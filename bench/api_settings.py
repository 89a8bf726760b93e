"""Settings for ``python -m bench.api``: production settings (``storefront.settings``)
with one change, the URL conf, which adds a bench-only minimal partner-API view
(``bench.api_urls``). Nothing else differs, so the API pages are measured as deployed."""

from storefront.settings import *  # noqa: F403

ROOT_URLCONF = "bench.api_urls"
