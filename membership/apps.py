from django.apps import AppConfig


class MembershipConfig(AppConfig):
    """Carrier accounts, tier rules, point holds, the points ledger, the reconciliation
    with the carrier and the carrier points client (docs/membership.md)."""

    name = "membership"
    verbose_name = "Membership"

    def ready(self) -> None:
        from . import subscribers  # noqa: F401  (registers the order-event subscribers)
