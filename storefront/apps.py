from django.apps import AppConfig


class StorefrontConfig(AppConfig):
    """Site-wide pieces: the home page, health checks and language switching; later the
    event outbox and the partner API plumbing."""

    name = "storefront"
    verbose_name = "Storefront"

    def ready(self) -> None:
        from . import partner_subscribers  # noqa: F401  (registers the webhook subscribers)
        from .api import keycache

        keycache.receivers_connect()  # API-key cache invalidation on partner and key saves
