"""Least privilege of the seeded staff groups: after `manage.py seed_staff_groups` each group
holds exactly the permissions on this explicit allow-list, reviewed here by hand. Anything
extra (a permission added to storefront/staff_groups.py without updating this review) fails;
so does any delete permission, anything on users, groups or permissions, API keys or
partners (credentials and credit stay with superusers), or the login-security tables."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from storefront.staff_groups import CATALOG, CUSTOMER_SERVICE, FINANCE, FULFILLMENT

pytestmark = pytest.mark.django_db

ORDER_VIEW = {"orders.view_order", "orders.view_orderline", "orders.view_orderstatuschange"}
PARTNER_WEBHOOK_VIEW = {
    "storefront.view_partner",
    "storefront.view_partnerwebhookdelivery",
    "storefront.view_partnerwebhookattempt",
}

ALLOWED: dict[str, set[str]] = {
    CUSTOMER_SERVICE: ORDER_VIEW
    | PARTNER_WEBHOOK_VIEW
    | {
        "orders.change_order",  # cancel (and refund in full), resend confirmation
        "orders.view_payment",
        "orders.view_refund",
        "orders.view_customsprofile",
        "orders.view_address",
        "orders.view_cart",
        "orders.view_cartline",
        "fulfillment.view_shipment",
        "fulfillment.view_shipmentline",
        "fulfillment.view_trackingevent",
        "fulfillment.view_purchaseorderline",
        "membership.view_carrieraccount",
        "membership.view_pointhold",
        "membership.view_pointentry",
        "storefront.change_partnerwebhookdelivery",  # "redeliver now"
    },
    FULFILLMENT: ORDER_VIEW
    | {
        "fulfillment.view_shipment",
        "fulfillment.add_shipment",
        "fulfillment.change_shipment",
        "fulfillment.view_shipmentline",
        "fulfillment.view_trackingevent",
        "fulfillment.view_stock",
        "fulfillment.add_stock",
        "fulfillment.change_stock",
        "fulfillment.view_warehouse",
        "fulfillment.view_reservation",
        "catalog.view_product",
        "fulfillment.view_orderforfulfillment",
        "fulfillment.view_allocation",
        "fulfillment.change_allocation",
        "fulfillment.view_purchaseorder",
        "fulfillment.change_purchaseorder",
        "fulfillment.view_purchaseorderline",
        "fulfillment.view_receipt",
        "fulfillment.add_receipt",
    },
    CATALOG: {
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
        "catalog.add_exchangerate",
        "fulfillment.view_stock",
    },
    FINANCE: ORDER_VIEW
    | PARTNER_WEBHOOK_VIEW
    | {
        "orders.refund_order",
        "orders.view_payment",
        "orders.view_refund",
        "orders.view_stripeevent",
        "catalog.view_exchangerate",
        "membership.view_carrieraccount",
        "membership.view_pointhold",
        "membership.change_pointhold",
        "membership.view_tierrule",
        "membership.change_tierrule",
        "membership.view_pointentry",
        "membership.view_reconciliationrun",
        "membership.change_reconciliationrun",
        "membership.view_reconciliationmismatch",
    },
}

# Apps no staff group may touch at all: accounts and permissions, login security (axes'
# attempt log, TOTP devices), sessions.
FORBIDDEN_APPS = {"auth", "admin", "contenttypes", "sessions", "axes", "otp_totp"}
FORBIDDEN = {
    "storefront.add_apikey",
    "storefront.change_apikey",
    "storefront.view_apikey",
    "storefront.add_partner",
    "storefront.change_partner",
}


def seeded() -> dict[str, set[str]]:
    call_command("seed_staff_groups", stdout=StringIO())
    return {
        group.name: {
            f"{app}.{codename}"
            for app, codename in group.permissions.values_list(
                "content_type__app_label", "codename"
            )
        }
        for group in Group.objects.all()
    }


def test_each_group_holds_exactly_its_allow_list():
    groups = seeded()
    assert set(groups) == set(ALLOWED)
    for name, allowed in ALLOWED.items():
        extra = groups[name] - allowed
        missing = allowed - groups[name]
        assert not extra, f"{name} holds permissions beyond its allow-list: {sorted(extra)}"
        assert not missing, f"{name} lacks reviewed permissions: {sorted(missing)}"


def test_no_group_deletes_or_touches_accounts_credentials_or_login_security():
    for name, permissions in seeded().items():
        deletes = {p for p in permissions if p.split(".")[1].startswith("delete_")}
        assert not deletes, f"{name} may delete: {sorted(deletes)}"
        forbidden = {p for p in permissions if p.split(".")[0] in FORBIDDEN_APPS} | (
            permissions & FORBIDDEN
        )
        assert not forbidden, f"{name} holds {sorted(forbidden)}"
