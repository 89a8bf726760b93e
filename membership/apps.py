from django.apps import AppConfig


class MembershipConfig(AppConfig):
    """Will own carrier accounts, tiers and discount rules, point holds, the points ledger
    and the carrier points client."""

    name = "membership"
    verbose_name = "Membership"
