"""Daily reconciliation of the local points ledger with the carrier's transactions.

``points_reconcile(day=...)`` compares, for one Asia/Seoul day, the carrier's list of
transactions (``GET /transactions?date=``) with the ledger entries that mirror carrier
transactions (kinds ``hold``, ``capture``, ``release``, ``refund``; ``sync`` entries have no
carrier transaction and are never compared), and records every difference as a
``ReconciliationMismatch`` for staff (admin: Membership → Reconciliation runs):

- ``missing_locally``: a carrier transaction whose id no ledger entry carries;
- ``missing_at_carrier``: a ledger entry of that day (``carrier_at`` on the day) whose
  ``carrier_transaction_id`` is not in the carrier's list, and a settling entry created that
  day with no ``carrier_transaction_id`` at all (the carrier's answer had no transaction);
- ``different``: the same transaction id, but type vs ``kind``, ``points`` or
  ``member_ref`` (the entry's account) differ.

Guarantees:

- the run row is created (``running``) and committed before the carrier is asked, so a run
  that dies half-way stays visible;
- the mismatches and the run's final counts and status (``matched`` / ``mismatched``) are
  written in one transaction: a run is never seen finished with half its mismatches;
- when the carrier does not give a usable answer (``CarrierUnavailable``, or a refusal)
  the run ends ``failed`` with the error and no mismatches, and the run is returned: no
  carrier error escapes (the daily task just records it; staff re-run it from the admin).
  Any other error marks the run ``failed`` and is re-raised;
- a bounded number of queries whatever the day's volume: the day's entries in one query,
  entries the carrier names from other days in chunks of ``ID_CHUNK`` ids, one bulk insert.

Nothing here changes the ledger or the holds: a mismatch is for a person to look into.
Run it for a finished day: a hold being recorded at the very moment of the run may show up
as ``missing_locally`` (the carrier answered, our write has not committed yet).
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .. import carrier_client
from ..carrier_client import CarrierTransaction
from ..models import PointEntry, ReconciliationMismatch, ReconciliationRun

logger = logging.getLogger(__name__)

SEOUL = ZoneInfo("Asia/Seoul")
# The ledger kinds that mirror a carrier transaction (the carrier's "type" values).
SETTLING_KINDS = (
    PointEntry.Kind.HOLD,
    PointEntry.Kind.CAPTURE,
    PointEntry.Kind.RELEASE,
    PointEntry.Kind.REFUND,
)
# Transaction ids per IN (...) query: well under every backend's parameter limit.
ID_CHUNK = 500

Mismatch = ReconciliationMismatch.Kind
RunStatus = ReconciliationRun.Status


def seoul_day_bounds(day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    """``[start, end)`` of the Asia/Seoul calendar day ``day``, as aware datetimes."""
    start = datetime.datetime.combine(day, datetime.time.min, tzinfo=SEOUL)
    return start, start + datetime.timedelta(days=1)


def points_reconcile(*, day: datetime.date) -> ReconciliationRun:
    """Compare the ledger with the carrier's transactions for the Seoul ``day`` and record
    the differences (module docstring). Returns the finished run: ``matched``,
    ``mismatched`` (``mismatch_count`` rows in ``run.mismatches``) or ``failed`` (``error``
    says why; no mismatches recorded)."""
    with transaction.atomic():
        run = ReconciliationRun.objects.create(day=day, status=RunStatus.RUNNING)
    try:
        carrier_txns = carrier_client.transactions_list(day=day)
    except carrier_client.CarrierError as exc:
        logger.warning("points reconciliation of %s failed: %s", day, exc)
        return _run_failed(run=run, error=f"{type(exc).__name__}: {exc}")
    try:
        return _run_compare(run=run, carrier_txns=carrier_txns)
    except Exception as exc:
        logger.exception("points reconciliation of %s crashed", day)
        _run_failed(run=run, error=f"{type(exc).__name__}: {exc}")
        raise


def _run_failed(*, run: ReconciliationRun, error: str) -> ReconciliationRun:
    with transaction.atomic():
        run.status = RunStatus.FAILED
        run.error = error[:300]
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "error", "finished_at"])
    return run


def _entries_load(*, day: datetime.date, carrier_ids: set[str]) -> dict[int, PointEntry]:
    """The settling entries to compare, by pk: the day's (by ``carrier_at``, or by
    ``created_at`` when they have no carrier transaction) and those the carrier names."""
    start, end = seoul_day_bounds(day)
    base = PointEntry.objects.filter(kind__in=SETTLING_KINDS).select_related("account")
    entries = {
        entry.pk: entry
        for entry in base.filter(
            Q(carrier_at__gte=start, carrier_at__lt=end)
            | Q(carrier_transaction_id__isnull=True, created_at__gte=start, created_at__lt=end)
        )
    }
    found = {e.carrier_transaction_id for e in entries.values() if e.carrier_transaction_id}
    elsewhere = sorted(carrier_ids - found)
    for i in range(0, len(elsewhere), ID_CHUNK):
        for entry in base.filter(carrier_transaction_id__in=elsewhere[i : i + ID_CHUNK]):
            entries[entry.pk] = entry
    return entries


def _txn_data(txn: CarrierTransaction) -> dict:
    data = dataclasses.asdict(txn)
    data["created_at"] = txn.created_at.isoformat()
    return data


def _differences(entry: PointEntry, txn: CarrierTransaction) -> list[str]:
    found = []
    if entry.kind != txn.type:
        found.append(f"type: ours {entry.kind}, carrier {txn.type}")
    if entry.points != txn.points:
        found.append(f"points: ours {entry.points}, carrier {txn.points}")
    if entry.account.member_ref != txn.member_ref:
        found.append(f"member: ours {entry.account.member_ref}, carrier {txn.member_ref}")
    return found


def _run_compare(
    *, run: ReconciliationRun, carrier_txns: list[CarrierTransaction]
) -> ReconciliationRun:
    carrier_by_id: dict[str, CarrierTransaction] = {}
    for txn in carrier_txns:
        carrier_by_id.setdefault(txn.transaction_id, txn)
    entries = _entries_load(day=run.day, carrier_ids=set(carrier_by_id))
    local_by_txn = {
        e.carrier_transaction_id: e for e in entries.values() if e.carrier_transaction_id
    }

    mismatches: list[ReconciliationMismatch] = []
    for txn_id, txn in carrier_by_id.items():
        entry = local_by_txn.get(txn_id)
        if entry is None:
            mismatches.append(
                ReconciliationMismatch(
                    run=run,
                    kind=Mismatch.MISSING_LOCALLY,
                    carrier_transaction_id=txn_id,
                    carrier_data=_txn_data(txn),
                    detail=(
                        f"carrier {txn.type} of {txn.points} points for {txn.member_ref} "
                        f"(hold {txn.hold_id}) is not in our ledger"
                    )[:300],
                )
            )
            continue
        found = _differences(entry, txn)
        if found:
            mismatches.append(
                ReconciliationMismatch(
                    run=run,
                    kind=Mismatch.DIFFERENT,
                    carrier_transaction_id=txn_id,
                    entry=entry,
                    carrier_data=_txn_data(txn),
                    detail="; ".join(found)[:300],
                )
            )
    for entry in sorted(entries.values(), key=lambda e: e.pk):
        if entry.carrier_transaction_id is None:
            detail = f"our {entry.kind} of {entry.points} points has no carrier transaction"
        elif entry.carrier_transaction_id not in carrier_by_id:
            detail = (
                f"our {entry.kind} of {entry.points} points "
                f"({entry.carrier_transaction_id}) is not in the carrier's list"
            )
        else:
            continue
        mismatches.append(
            ReconciliationMismatch(
                run=run,
                kind=Mismatch.MISSING_AT_CARRIER,
                carrier_transaction_id=entry.carrier_transaction_id or "",
                entry=entry,
                detail=detail[:300],
            )
        )

    with transaction.atomic():
        ReconciliationMismatch.objects.bulk_create(mismatches)
        run.carrier_count = len(carrier_by_id)
        run.local_count = len(entries)
        run.mismatch_count = len(mismatches)
        run.status = RunStatus.MISMATCHED if mismatches else RunStatus.MATCHED
        run.finished_at = timezone.now()
        run.save(
            update_fields=[
                "carrier_count",
                "local_count",
                "mismatch_count",
                "status",
                "finished_at",
            ]
        )
    if mismatches:
        logger.warning("points reconciliation of %s: %d mismatch(es)", run.day, len(mismatches))
    return run
