"""Membership admin (membership/admin.py): every list and page renders; a member's phone is
only ever shown masked; the "retry capture/release" action settles holds through the real
service against the sandbox carrier (captured when paid; left held with the error and a
warning when the carrier is down) and is refused to staff without
``membership.change_pointhold``; tier rules are edited with validation and never added or
deleted; "run again" makes a new reconciliation run; each list costs the same number of
queries for 1 and 10 rows; the staff groups get exactly the membership access intended."""

from __future__ import annotations

import datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from membership.models import (
    CarrierAccount,
    PointEntry,
    PointHold,
    ReconciliationMismatch,
    ReconciliationRun,
    TierRule,
)
from membership.selectors import discount_day
from membership.services.holds import points_hold, points_hold_attach
from storefront.staff_groups import CATALOG, CUSTOMER_SERVICE, FINANCE, FULFILLMENT
from tests.factories import OrderFactory
from tests.membership.factories import (
    PointEntryFactory,
    PointHoldFactory,
    ReconciliationMismatchFactory,
    ReconciliationRunFactory,
    made_up_account,
    member_link,
)
from tests.orders.factories import paid_order

pytestmark = pytest.mark.django_db

HOLDS_URL = reverse("admin:membership_pointhold_changelist")
RUNS_URL = reverse("admin:membership_reconciliationrun_changelist")
FULL_PHONE_FORMS = ("+821012345678", "01012345678", "010-1234-5678", "1012345678")


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"


def messages_of(response) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


def make_rows(count: int) -> None:
    """``count`` of each: accounts, holds (on paid orders), entries, runs with mismatches."""
    for _ in range(count):
        hold = PointHoldFactory(account=made_up_account(), order=paid_order())
        entry = PointEntryFactory(hold=hold)
        mismatch = ReconciliationMismatchFactory(entry=entry)
        ReconciliationMismatchFactory(run=mismatch.run)


ALL_MODELS = [
    "carrieraccount",
    "tierrule",
    "pointhold",
    "pointentry",
    "reconciliationrun",
    "reconciliationmismatch",
]


# --- pages render --------------------------------------------------------------------------


@pytest.mark.parametrize("model", ALL_MODELS)
def test_every_list_and_page_renders_for_a_superuser(admin_client, model):
    make_rows(2)
    response = admin_client.get(reverse(f"admin:membership_{model}_changelist"))
    assert response.status_code == 200
    obj = response.context["cl"].result_list[0]
    page = admin_client.get(reverse(f"admin:membership_{model}_change", args=[obj.pk]))
    assert page.status_code == 200


def test_pages_of_a_hold_and_entry_link_to_the_order_and_hold(admin_client):
    hold = PointHoldFactory(account=made_up_account(), order=paid_order())
    entry = PointEntryFactory(hold=hold)
    holds = admin_client.get(HOLDS_URL).content.decode()
    entries = admin_client.get(reverse("admin:membership_pointentry_changelist")).content.decode()
    assert reverse("admin:orders_order_change", args=[hold.order_id]) in holds
    assert hold.order.number in holds
    assert reverse("admin:membership_pointhold_change", args=[hold.pk]) in entries
    assert entry.carrier_transaction_id in entries


def test_nothing_is_added_or_deleted_and_the_ledger_is_not_editable(admin_client):
    hold = PointHoldFactory(account=made_up_account())
    entry = PointEntryFactory(hold=hold)
    for model, pk in [
        ("carrieraccount", hold.account_id),
        ("pointhold", hold.pk),
        ("pointentry", entry.pk),
        ("tierrule", TierRule.objects.first().pk),
    ]:
        assert admin_client.get(reverse(f"admin:membership_{model}_add")).status_code == 403
        delete = reverse(f"admin:membership_{model}_delete", args=[pk])
        assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    # a hold's page is read-only even for a superuser: posting changes nothing
    change = reverse("admin:membership_pointhold_change", args=[hold.pk])
    assert admin_client.post(change, {"points": "1", "status": "captured"}).status_code == 403
    hold.refresh_from_db()
    assert (hold.points, hold.status) == (3000, PointHold.Status.HELD)
    assert PointEntry.objects.count() == 1
    assert CarrierAccount.objects.count() == 1


# --- phone masked --------------------------------------------------------------------------


def test_the_phone_is_masked_on_the_list_and_the_account_page(admin_client):
    account = made_up_account(phone="+821012345678", member_ref="TM1000000001")
    pages = [
        admin_client.get(reverse("admin:membership_carrieraccount_changelist")),
        admin_client.get(reverse("admin:membership_carrieraccount_change", args=[account.pk])),
    ]
    for page in pages:
        html = page.content.decode()
        assert page.status_code == 200
        assert "010-****-5678" in html
        assert "TM1000000001" in html
        for full in FULL_PHONE_FORMS:
            assert full not in html


def test_accounts_are_found_by_member_ref_and_email_and_filtered_by_link(admin_client):
    linked = made_up_account(member_ref="TM5550001111")
    gone = made_up_account(member_ref="TM5550002222", unlinked_at=timezone.now())
    url = reverse("admin:membership_carrieraccount_changelist")

    def shown(params) -> set[int]:
        return {a.pk for a in admin_client.get(url, params).context["cl"].result_list}

    assert shown({"q": "TM5550001111"}) == {linked.pk}
    assert shown({"q": gone.customer.email}) == {gone.pk}
    assert shown({"linked": "yes"}) == {linked.pk}
    assert shown({"linked": "no"}) == {gone.pk}


# --- retry action against the sandbox ------------------------------------------------------


@pytest.fixture
def held_on_paid_order(carrier_points) -> PointHold:
    """A real hold at the sandbox carrier, attached to an order that has been paid (the
    capture that should have followed was lost)."""
    account = member_link(controls=carrier_points, member_ref="TM1000000001")
    hold = points_hold(
        customer_id=account.customer_id,
        merchandise_krw=100_000,
        expected_points=None,
        reference="T-retry",
        expires_at=timezone.now() + datetime.timedelta(hours=2),
    )
    points_hold_attach(hold_id=hold.pk, order_id=paid_order().pk)
    assert hold.status == PointHold.Status.HELD
    return hold


def carrier_hold_status(controls, hold: PointHold) -> str:
    return controls.state("carrier")["holds"][hold.carrier_hold_id]["status"]


def retry(client, *holds: PointHold):
    return client.post(
        HOLDS_URL,
        {"action": "retry_settle", "_selected_action": [h.pk for h in holds]},
        follow=True,
    )


def test_retry_captures_a_held_hold_of_a_paid_order(
    admin_client, held_on_paid_order, carrier_points
):
    response = retry(admin_client, held_on_paid_order)

    held_on_paid_order.refresh_from_db()
    assert held_on_paid_order.status == PointHold.Status.CAPTURED
    assert carrier_hold_status(carrier_points, held_on_paid_order) == "captured"
    assert PointEntry.objects.filter(hold=held_on_paid_order, kind="capture").count() == 1
    assert messages_of(response) == [("success", f"Hold {held_on_paid_order.pk}: settled to Used.")]


def test_retry_with_the_carrier_down_leaves_the_hold_held_with_a_warning(
    admin_client, held_on_paid_order, carrier_points
):
    carrier_points.faults("carrier", fail_next=10)

    response = retry(admin_client, held_on_paid_order)

    held_on_paid_order.refresh_from_db()
    assert held_on_paid_order.status == PointHold.Status.HELD
    assert held_on_paid_order.attempts == 1
    assert held_on_paid_order.last_error.startswith("capture:")
    assert not PointEntry.objects.filter(hold=held_on_paid_order, kind="capture").exists()
    carrier_points.faults("carrier", fail_next=0)
    assert carrier_hold_status(carrier_points, held_on_paid_order) == "held"
    [(level, text)] = messages_of(response)
    assert level == "warning"
    assert text.startswith(f"Hold {held_on_paid_order.pk}: carrier unavailable:")
    assert text.endswith("it stays Held.")


def test_retry_of_a_hold_awaiting_payment_changes_nothing(admin_client, carrier_points):
    account = member_link(controls=carrier_points, member_ref="TM1000000002")
    hold = points_hold(
        customer_id=account.customer_id,
        merchandise_krw=50_000,
        expected_points=None,
        reference="T-unpaid",
        expires_at=timezone.now() + datetime.timedelta(hours=2),
    )
    points_hold_attach(hold_id=hold.pk, order_id=OrderFactory().pk)
    before = carrier_points.request_count("carrier")

    response = retry(admin_client, hold)

    hold.refresh_from_db()
    assert hold.status == PointHold.Status.HELD
    assert carrier_points.request_count("carrier") == before
    assert messages_of(response) == [("info", f"Hold {hold.pk}: nothing to do, it stays Held.")]


@pytest.fixture
def staff_in(client, django_user_model):
    """A client signed in as a new non-superuser staff member of the seeded group."""

    def login(group_name: str):
        call_command("seed_staff_groups", stdout=StringIO())
        user = django_user_model.objects.create_user(
            f"staff-{group_name.replace(' ', '-').lower()}", is_staff=True
        )
        user.groups.add(Group.objects.get(name=group_name))
        client.force_login(user)
        return client

    return login


def action_names(response) -> set[str]:
    assert response.status_code == 200
    form = response.context["action_form"]
    if form is None:
        return set()
    return {name for name, _label in form.fields["action"].choices if name}


def test_staff_without_change_pointhold_cannot_retry(staff_in, held_on_paid_order, carrier_points):
    client = staff_in(CUSTOMER_SERVICE)
    assert "retry_settle" not in action_names(client.get(HOLDS_URL))
    before = carrier_points.request_count("carrier")

    response = retry(client, held_on_paid_order)

    held_on_paid_order.refresh_from_db()
    assert held_on_paid_order.status == PointHold.Status.HELD
    assert held_on_paid_order.attempts == 0
    assert carrier_points.request_count("carrier") == before
    assert carrier_hold_status(carrier_points, held_on_paid_order) == "held"
    assert not any(text.startswith("Hold") for _level, text in messages_of(response))


def test_finance_may_retry(staff_in, held_on_paid_order, carrier_points):
    client = staff_in(FINANCE)
    assert "retry_settle" in action_names(client.get(HOLDS_URL))

    retry(client, held_on_paid_order)

    held_on_paid_order.refresh_from_db()
    assert held_on_paid_order.status == PointHold.Status.CAPTURED


# --- staff groups --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("group", "allowed", "refused"),
    [
        (
            CUSTOMER_SERVICE,
            ["carrieraccount", "pointhold", "pointentry"],
            ["tierrule", "reconciliationrun", "reconciliationmismatch"],
        ),
        (FINANCE, ALL_MODELS, []),
        (CATALOG, [], ALL_MODELS),
        (FULFILLMENT, [], ALL_MODELS),
    ],
)
def test_each_group_sees_only_its_membership_pages(staff_in, group, allowed, refused):
    make_rows(1)
    client = staff_in(group)
    for model in allowed:
        assert client.get(reverse(f"admin:membership_{model}_changelist")).status_code == 200
    for model in refused:
        assert client.get(reverse(f"admin:membership_{model}_changelist")).status_code == 403


def test_customer_service_cannot_edit_tier_rules_and_finance_can(staff_in):
    rule = TierRule.objects.get(tier="GOLD")
    url = reverse("admin:membership_tierrule_change", args=[rule.pk])
    data = {"rate": "0.120", "cap_krw": "30000", "uses_per_day": "1", "is_active": "on"}
    assert staff_in(CUSTOMER_SERVICE).post(url, data).status_code == 403
    rule.refresh_from_db()
    assert rule.rate == Decimal("0.100")
    assert staff_in(FINANCE).post(url, data).status_code == 302
    rule.refresh_from_db()
    assert rule.rate == Decimal("0.120")


# --- tier rules ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("rate", "1.500", "The rate is a share between 0 and 1"),
        ("uses_per_day", "0", "At least one order a day"),
        ("cap_krw", "0", "The cap is at least ₩1"),
    ],
)
def test_a_bad_tier_rule_is_refused_with_a_message(admin_client, field, value, message):
    rule = TierRule.objects.get(tier="VIP")
    url = reverse("admin:membership_tierrule_change", args=[rule.pk])
    data = {"rate": "0.100", "cap_krw": "50000", "uses_per_day": "1", "is_active": "on"}
    data[field] = value

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert message in response.content.decode()
    rule.refresh_from_db()
    assert (rule.rate, rule.cap_krw, rule.uses_per_day) == (Decimal("0.100"), 50000, 1)


def test_a_tier_rule_edit_is_saved_but_the_tier_is_not_changed(admin_client):
    rule = TierRule.objects.get(tier="SILVER")
    url = reverse("admin:membership_tierrule_change", args=[rule.pk])
    data = {"tier": "VIP", "rate": "0.070", "cap_krw": "12000", "uses_per_day": "2"}

    assert admin_client.post(url, data).status_code == 302

    rule.refresh_from_db()
    assert (rule.tier, rule.rate, rule.cap_krw, rule.uses_per_day, rule.is_active) == (
        "SILVER",
        Decimal("0.070"),
        12000,
        2,
        False,
    )


# --- reconciliation ------------------------------------------------------------------------


def test_run_again_makes_a_new_run_for_the_day(admin_client, carrier_points):
    old = ReconciliationRunFactory(day=discount_day())
    ReconciliationMismatchFactory(run=old)

    response = admin_client.post(
        RUNS_URL, {"action": "run_again", "_selected_action": [old.pk]}, follow=True
    )

    new = ReconciliationRun.objects.exclude(pk=old.pk).get()
    assert new.day == old.day
    assert new.status == ReconciliationRun.Status.MATCHED
    assert old.mismatches.count() == 1  # the earlier run is left as it was
    assert messages_of(response) == [("success", f"{old.day}: matched (0 carrier transactions).")]


def test_run_again_with_the_carrier_down_reports_it(admin_client, carrier_points):
    old = ReconciliationRunFactory(day=discount_day())
    carrier_points.faults("carrier", fail_next=10)

    response = admin_client.post(
        RUNS_URL, {"action": "run_again", "_selected_action": [old.pk]}, follow=True
    )

    new = ReconciliationRun.objects.exclude(pk=old.pk).get()
    assert new.status == ReconciliationRun.Status.FAILED
    [(level, text)] = messages_of(response)
    assert level == "warning"
    assert text.startswith(f"{old.day}: could not run: CarrierUnavailable")


def test_a_run_page_shows_its_mismatches(admin_client):
    mismatch = ReconciliationMismatchFactory(carrier_transaction_id="txn_shown_here")
    html = admin_client.get(
        reverse("admin:membership_reconciliationrun_change", args=[mismatch.run_id])
    ).content.decode()
    assert "txn_shown_here" in html
    assert mismatch.detail in html


def test_mismatches_are_filtered_by_kind(admin_client):
    lost = ReconciliationMismatchFactory(kind=ReconciliationMismatch.Kind.MISSING_AT_CARRIER)
    ReconciliationMismatchFactory(kind=ReconciliationMismatch.Kind.MISSING_LOCALLY)
    response = admin_client.get(
        reverse("admin:membership_reconciliationmismatch_changelist"),
        {"kind__exact": "missing_at_carrier"},
    )
    assert [m.pk for m in response.context["cl"].result_list] == [lost.pk]


# --- query counts --------------------------------------------------------------------------


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("model", ALL_MODELS)
def test_list_queries_do_not_grow_with_the_page(admin_client, model):
    url = reverse(f"admin:membership_{model}_changelist")
    make_rows(1)
    one = count_queries(admin_client, url)
    make_rows(9)
    ten = count_queries(admin_client, url)
    assert one == ten
