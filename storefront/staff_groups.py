"""The staff groups and exactly the permissions each holds (least privilege), as data.

``manage.py seed_staff_groups`` makes the database match this: it creates missing groups and
sets each one's permissions to exactly these (adding and removing). Groups not listed here
are left alone. Permissions are ``"app_label.codename"``; the test fails on a typo.

Who may move money:

- **Customer service** changes orders (``orders.change_order``): the "cancel and refund"
  action (an order not yet shipped is cancelled and, if paid, refunded in full — a
  cancellation, not a judgement about an amount), cancelling a held sourcing line (which
  refunds it), and resending the confirmation email. No partial refunds.
- **Finance** alone refunds an amount or some units of an order (the refund form,
  ``orders.refund_order``) and reads payments, refunds and Stripe events. It cannot cancel.
- **Fulfillment** packs, ships and stocks: shipments, stock, receipts, purchase orders,
  allocations. It only views orders and can neither cancel nor refund.
- **Catalog** edits products, categories, customs classes and rules and enters exchange
  rates. Nothing about orders.

Carrier membership points (membership/admin.py): customer service looks at linked
accounts (phone masked), point holds and the points ledger to answer "where are my
points?". Finance alone moves them: the "retry capture/release" action on holds
(``membership.change_pointhold``), edits the tier rules, and reads and re-runs the daily
reconciliation with the carrier. Fulfillment and catalog see nothing of it.

Partner API (storefront/admin.py): customer service and finance see partners (scopes,
credit limit; the webhook secret only masked) and the webhook log with each attempt, to
answer "did we tell the partner?"; customer service may "redeliver now" (it re-sends what
already happened, it moves no money). No group makes, edits or revokes API keys, or edits
partners (scopes, credit limits, webhook URLs and secrets): those are credentials and
credit, kept to superusers.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from storefront.errors import ApplicationError

CUSTOMER_SERVICE = "Customer service"
FULFILLMENT = "Fulfillment"
CATALOG = "Catalog"
FINANCE = "Finance"

# The order page and its inlines (lines, status history), read-only.
_ORDER_VIEW = [
    "orders.view_order",
    "orders.view_orderline",
    "orders.view_orderstatuschange",
]

# Partners (secret masked) and their webhook deliveries with the attempt log, read-only.
_PARTNER_WEBHOOK_VIEW = [
    "storefront.view_partner",
    "storefront.view_partnerwebhookdelivery",
    "storefront.view_partnerwebhookattempt",
]

STAFF_GROUPS: dict[str, list[str]] = {
    CUSTOMER_SERVICE: [
        *_ORDER_VIEW,
        "orders.change_order",  # cancel and refund, resend the confirmation email
        "orders.view_payment",
        "orders.view_refund",
        "orders.view_customsprofile",  # PCCC and phone are masked on that page
        "orders.view_address",
        "orders.view_cart",
        "orders.view_cartline",
        # "Where is my parcel?"
        "fulfillment.view_shipment",
        "fulfillment.view_shipmentline",
        "fulfillment.view_trackingevent",
        "fulfillment.view_purchaseorderline",  # held sourcing lines, to cancel them
        # "Where are my points?": the link (phone masked), holds and ledger, read-only.
        "membership.view_carrieraccount",
        "membership.view_pointhold",
        "membership.view_pointentry",
        # "Did the partner get the webhook?": the log, and "redeliver now".
        *_PARTNER_WEBHOOK_VIEW,
        "storefront.change_partnerwebhookdelivery",  # the "redeliver now" action only
    ],
    FULFILLMENT: [
        *_ORDER_VIEW,
        # Shipments: "ship an order" creates one, "mark shipped" changes it.
        "fulfillment.view_shipment",
        "fulfillment.add_shipment",
        "fulfillment.change_shipment",
        "fulfillment.view_shipmentline",
        "fulfillment.view_trackingevent",
        # Stock levels, and new stock rows (autocomplete needs the product list).
        "fulfillment.view_stock",
        "fulfillment.add_stock",
        "fulfillment.change_stock",
        "fulfillment.view_warehouse",
        "fulfillment.view_reservation",
        "catalog.view_product",
        # Allocation: the paid-orders page and its "re-run allocation" action.
        "fulfillment.view_orderforfulfillment",
        "fulfillment.view_allocation",
        "fulfillment.change_allocation",
        # Purchase orders: "send to Amazon now" / "ask Amazon" and receipts of restocks.
        "fulfillment.view_purchaseorder",
        "fulfillment.change_purchaseorder",
        "fulfillment.view_purchaseorderline",
        "fulfillment.view_receipt",
        "fulfillment.add_receipt",
    ],
    CATALOG: [
        "catalog.view_product",
        "catalog.add_product",
        "catalog.change_product",
        "catalog.view_category",
        "catalog.add_category",
        "catalog.change_category",
        "catalog.view_customsclass",
        "catalog.add_customsclass",
        "catalog.change_customsclass",
        "catalog.view_customsclassrule",
        "catalog.add_customsclassrule",
        "catalog.change_customsclassrule",
        "catalog.view_exchangerate",
        "catalog.add_exchangerate",  # manual rates; history is never changed
        "fulfillment.view_stock",  # the product page's stock inline
    ],
    FINANCE: [
        *_ORDER_VIEW,
        "orders.refund_order",  # the refund form: an amount or units
        "orders.view_payment",
        "orders.view_refund",
        "orders.view_stripeevent",
        "catalog.view_exchangerate",
        # Carrier membership points: retry a stuck capture/release, the discount rules,
        # the ledger and the daily reconciliation (and running it again).
        "membership.view_carrieraccount",
        "membership.view_pointhold",
        "membership.change_pointhold",  # the "retry capture/release" action only
        "membership.view_tierrule",
        "membership.change_tierrule",
        "membership.view_pointentry",
        "membership.view_reconciliationrun",
        "membership.change_reconciliationrun",  # "run reconciliation again" only
        "membership.view_reconciliationmismatch",
        # Partner credit limits and the webhook log, read-only.
        *_PARTNER_WEBHOOK_VIEW,
    ],
}


class UnknownPermission(ApplicationError):
    code = "unknown_permission"


@dataclass(frozen=True)
class GroupChange:
    """What seeding did to one group."""

    name: str
    created: bool
    added: tuple[str, ...]
    removed: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return self.created or bool(self.added or self.removed)


def _label(permission: Permission) -> str:
    return f"{permission.content_type.app_label}.{permission.codename}"


def permissions_resolve(*, labels: list[str]) -> dict[str, Permission]:
    """The permissions named ``"app_label.codename"``; raises ``UnknownPermission`` naming
    every label that does not exist (a typo, or a model that was removed)."""
    wanted = set(labels)
    found: dict[str, Permission] = {}
    for permission in Permission.objects.select_related("content_type").filter(
        codename__in={label.partition(".")[2] for label in wanted}
    ):
        label = _label(permission)
        if label in wanted:
            found[label] = permission
    missing = sorted(wanted - found.keys())
    if missing:
        raise UnknownPermission(f"Unknown permissions: {', '.join(missing)}")
    return found


def staff_groups_seed(*, groups: dict[str, list[str]] | None = None) -> list[GroupChange]:
    """Make each group exist with exactly its listed permissions (adding missing ones,
    removing others), all or nothing. Idempotent: a second run changes nothing. Groups not
    listed are untouched. Raises ``UnknownPermission`` before changing anything."""
    groups = STAFF_GROUPS if groups is None else groups
    resolved = permissions_resolve(labels=[label for labels in groups.values() for label in labels])
    changes = []
    with transaction.atomic():
        for name, labels in groups.items():
            group, created = Group.objects.get_or_create(name=name)
            current = {_label(p): p for p in group.permissions.select_related("content_type")}
            wanted = set(labels)
            added = sorted(wanted - current.keys())
            removed = sorted(current.keys() - wanted)
            if added:
                group.permissions.add(*(resolved[label] for label in added))
            if removed:
                group.permissions.remove(*(current[label] for label in removed))
            changes.append(GroupChange(name, created, tuple(added), tuple(removed)))
    return changes
