"""Daily reconciliation (membership/services/reconciliation.py) against the sandbox carrier
over HTTP: a ledger made by the real hold services matches the carrier's transactions; a
carrier transaction we lack, one of ours the carrier lacks, an entry recorded differently
and a settling entry without a carrier transaction are each reported with their kind; a
carrier that does not answer leaves a failed run with no mismatches; the work is a fixed
number of queries."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from membership.models import (
    CarrierAccount,
    PointEntry,
    PointHold,
    ReconciliationMismatch,
    ReconciliationRun,
)
from membership.selectors import discount_day
from membership.services.holds import (
    points_capture,
    points_hold,
    points_hold_abandon,
    points_hold_attach,
    points_refund,
)
from membership.services.reconciliation import points_reconcile
from tests.factories import OrderFactory
from tests.membership.factories import member_link
from tests.membership.tampering import ledger_tampering
from tests.orders.factories import paid_order

pytestmark = pytest.mark.django_db

Kind = ReconciliationMismatch.Kind
Status = ReconciliationRun.Status
SETTLING = ["hold", "capture", "release", "refund"]


def hold_for(account, *, merchandise_krw: int = 100_000) -> PointHold:
    return points_hold(
        customer_id=account.customer_id,
        merchandise_krw=merchandise_krw,
        expected_points=None,
        reference=f"checkout-{account.member_ref}",
        expires_at=timezone.now() + datetime.timedelta(hours=2),
    )


@pytest.fixture
def ledger(carrier_points):
    """Today's real traffic: member 1 holds, is captured and refunded in part; member 2
    holds and is released. 5 carrier transactions, 5 settling entries (+ 2 sync)."""
    vip = member_link(controls=carrier_points, member_ref="TM1000000001")
    gold = member_link(controls=carrier_points, member_ref="TM1000000002")
    captured = hold_for(vip)
    order = paid_order()
    points_hold_attach(hold_id=captured.pk, order_id=order.pk)
    points_capture(order_id=order.pk)
    points_refund(order_id=order.pk, reference="refund-1", points=1000)
    released = hold_for(gold)
    points_hold_abandon(hold_id=released.pk, reason="placement failed")
    return carrier_points


def carrier_txns(controls) -> list[dict]:
    return controls.state("carrier")["transactions"]


def mismatches(run: ReconciliationRun) -> list[tuple[str, str]]:
    return [(m.kind, m.carrier_transaction_id) for m in run.mismatches.order_by("id")]


def test_a_ledger_made_by_the_services_matches_the_carrier(ledger):
    assert PointEntry.objects.filter(kind__in=SETTLING).count() == 5
    assert len(carrier_txns(ledger)) == 5

    run = points_reconcile(day=discount_day())

    run.refresh_from_db()
    assert run.status == Status.MATCHED
    assert (run.carrier_count, run.local_count, run.mismatch_count) == (5, 5, 0)
    assert run.finished_at is not None
    assert run.error == ""
    assert not ReconciliationMismatch.objects.exists()


def test_another_day_has_nothing_to_compare(ledger):
    run = points_reconcile(day=discount_day() - datetime.timedelta(days=1))

    assert run.status == Status.MATCHED
    assert (run.carrier_count, run.local_count, run.mismatch_count) == (0, 0, 0)


def test_a_carrier_transaction_we_do_not_have_is_missing_locally(ledger):
    ledger.state(
        "carrier",
        transactions_add=[
            {
                "transaction_id": "txn_foreign01",
                "type": "hold",
                "member_ref": "TM1000000003",
                "hold_id": "hld_foreign01",
                "points": 700,
                "idempotency_key": "someone-else",
                "reference": "not ours",
                "created_at": timezone.now().isoformat(),
            }
        ],
    )

    run = points_reconcile(day=discount_day())

    assert run.status == Status.MISMATCHED
    assert (run.carrier_count, run.local_count, run.mismatch_count) == (6, 5, 1)
    assert mismatches(run) == [(Kind.MISSING_LOCALLY, "txn_foreign01")]
    mismatch = run.mismatches.get()
    assert mismatch.entry is None
    assert mismatch.carrier_data["points"] == 700
    assert mismatch.carrier_data["member_ref"] == "TM1000000003"


def test_an_entry_the_carrier_lost_is_missing_at_the_carrier(ledger):
    capture = PointEntry.objects.get(kind="capture")
    ledger.state("carrier", transactions_remove=[capture.carrier_transaction_id])

    run = points_reconcile(day=discount_day())

    assert run.status == Status.MISMATCHED
    assert (run.carrier_count, run.local_count, run.mismatch_count) == (4, 5, 1)
    assert mismatches(run) == [(Kind.MISSING_AT_CARRIER, capture.carrier_transaction_id)]
    assert run.mismatches.get().entry == capture


def test_an_entry_recorded_differently_is_reported_with_what_differs(ledger):
    refund = PointEntry.objects.get(kind="refund")
    with ledger_tampering():
        PointEntry.objects.filter(pk=refund.pk).update(points=999)

    run = points_reconcile(day=discount_day())

    assert run.status == Status.MISMATCHED
    assert mismatches(run) == [(Kind.DIFFERENT, refund.carrier_transaction_id)]
    mismatch = run.mismatches.get()
    assert mismatch.entry == refund
    assert "points: ours 999, carrier 1000" in mismatch.detail
    assert mismatch.carrier_data["points"] == 1000


def test_a_different_kind_or_member_is_reported(ledger):
    release = PointEntry.objects.get(kind="release")
    with ledger_tampering():
        PointEntry.objects.filter(pk=release.pk).update(kind="capture")
    hold = PointEntry.objects.get(kind="hold", account__member_ref="TM1000000001")
    other = member_link(controls=ledger, member_ref="TM1000000003")
    with ledger_tampering():
        PointEntry.objects.filter(pk=hold.pk).update(account=other)

    run = points_reconcile(day=discount_day())

    found = {m.entry_id: m for m in run.mismatches.all()}
    assert set(found) == {release.pk, hold.pk}
    assert {m.kind for m in found.values()} == {Kind.DIFFERENT}
    assert "type: ours capture, carrier release" in found[release.pk].detail
    assert "member: ours TM1000000003, carrier TM1000000001" in found[hold.pk].detail


def test_an_entry_from_another_day_named_by_the_carrier_is_compared(ledger):
    """The carrier lists it today; ours says yesterday: still the same transaction."""
    capture = PointEntry.objects.get(kind="capture")
    with ledger_tampering():
        PointEntry.objects.filter(pk=capture.pk).update(
            carrier_at=timezone.now() - datetime.timedelta(days=2)
        )

    run = points_reconcile(day=discount_day())

    assert run.status == Status.MATCHED
    assert run.local_count == 5


def test_a_settling_entry_without_a_carrier_transaction_is_missing_at_the_carrier(ledger):
    release = PointEntry.objects.get(kind="release")
    with ledger_tampering():
        PointEntry.objects.filter(pk=release.pk).update(
            carrier_transaction_id=None, carrier_at=None
        )

    run = points_reconcile(day=discount_day())

    kinds = {(m.kind, m.entry_id, m.carrier_transaction_id) for m in run.mismatches.all()}
    # Ours has no id; the carrier's release is then one we do not know.
    assert (Kind.MISSING_AT_CARRIER, release.pk, "") in kinds
    assert {kind for kind, _entry, _txn in kinds} == {Kind.MISSING_AT_CARRIER, Kind.MISSING_LOCALLY}
    assert run.mismatch_count == 2


def test_sync_entries_are_never_compared(ledger):
    assert PointEntry.objects.filter(kind="sync").count() == 2

    run = points_reconcile(day=discount_day())

    assert run.local_count == 5
    assert not run.mismatches.filter(entry__kind="sync").exists()


def test_carrier_down_fails_the_run_and_records_nothing(ledger):
    ledger.faults("carrier", fail_next=10)

    run = points_reconcile(day=discount_day())

    run.refresh_from_db()
    assert run.status == Status.FAILED
    assert "CarrierUnavailable" in run.error
    assert run.finished_at is not None
    assert (run.carrier_count, run.local_count, run.mismatch_count) == (0, 0, 0)
    assert not ReconciliationMismatch.objects.exists()


def test_the_daily_task_records_a_failed_run_without_raising(ledger):
    from membership.tasks import points_reconcile_yesterday

    ledger.faults("carrier", fail_next=10)

    run_id = points_reconcile_yesterday.apply(kwargs={"day": discount_day().isoformat()}).get()

    assert ReconciliationRun.objects.get(pk=run_id).status == Status.FAILED


def test_queries_do_not_grow_with_the_ledger(carrier_points):
    """Run row, carrier call, the day's entries (accounts joined), other-day ids, one bulk
    insert, the final update: the same count for 1 and 3 holds."""

    def measure(controls, member_refs):
        for ref in member_refs:
            account = member_link(controls=controls, member_ref=ref)
            hold = hold_for(account, merchandise_krw=20_000)
            order = OrderFactory()
            points_hold_attach(hold_id=hold.pk, order_id=order.pk)
        # one carrier txn per hold, and one more we lack: the mismatch path is measured too
        controls.state(
            "carrier",
            transactions_remove=[carrier_txns(controls)[0]["transaction_id"]],
        )
        with CaptureQueriesContext(connection) as queries:
            run = points_reconcile(day=discount_day())
        assert run.mismatch_count == 1
        return len(queries)

    one = measure(carrier_points, ["TM1000000001"])
    carrier_points.reset("carrier")
    ReconciliationMismatch.objects.all().delete()
    with ledger_tampering():
        PointEntry.objects.all().delete()
    PointHold.objects.all().delete()
    CarrierAccount.objects.all().delete()
    many = measure(carrier_points, ["TM1000000001", "TM1000000002", "TM1000000003"])
    assert one == many
