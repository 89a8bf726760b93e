"""The carrier points client (membership/carrier_client.py), over HTTP against the sandbox's
``carrier`` service (through the ``carrier_points`` fixture)."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

import pytest

from membership.carrier_client import (
    CarrierHold,
    CarrierRefund,
    CarrierRefused,
    CarrierTransaction,
    CarrierUnavailable,
    Member,
    OtpChallenge,
    hold_capture,
    hold_create,
    hold_get,
    hold_release,
    hold_void,
    member_get,
    otp_send,
    otp_verify,
    refund_create,
    transactions_list,
)

HONG, HONG_PHONE = "TM1000000001", "+821012345678"


def expiry(minutes: int = 30) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes)


def hold(points: int = 5000, *, key: str = "hold-1", member_ref: str = HONG) -> CarrierHold:
    return hold_create(
        member_ref=member_ref,
        points=points,
        reference="CHK-1",
        expires_at=expiry(),
        idempotency_key=key,
    )


def carrier_holds(controls) -> list[dict]:
    return list(controls.state("carrier")["holds"].values())


def hold_posts(controls) -> list[dict]:
    return [
        r
        for r in controls.requests("carrier")
        if r["method"] == "POST" and r["path"].endswith("/holds")
    ]


# --- happy paths ---------------------------------------------------------------------------


def test_a_code_is_sent_and_verified_into_the_member(carrier_points):
    carrier_points.state("carrier", fixed_code="123456")

    challenge = otp_send(phone_e164=HONG_PHONE, idempotency_key="otp-1")
    member = otp_verify(challenge_id=challenge.challenge_id, code="123456")

    assert isinstance(challenge, OtpChallenge)
    assert challenge.challenge_id.startswith("otp_")
    assert challenge.expires_at > datetime.now(UTC)
    assert challenge.resend_after_seconds == 30
    assert member == Member(
        member_ref=HONG, phone=HONG_PHONE, tier="VIP", balance=80000, held=0, available=80000
    )


def test_member_get_reads_tier_and_balance(carrier_points):
    hold(points=5000)

    assert member_get(member_ref=HONG) == Member(
        member_ref=HONG, phone=HONG_PHONE, tier="VIP", balance=80000, held=5000, available=75000
    )


def test_a_hold_is_created_captured_and_refunded(carrier_points):
    expires_at = expiry(40)

    created = hold_create(
        member_ref=HONG,
        points=5000,
        reference="CHK-1",
        expires_at=expires_at,
        idempotency_key="hold-1",
    )
    captured = hold_capture(hold_id=created.hold_id, idempotency_key="cap-1")
    refund = refund_create(
        hold_id=created.hold_id, points=2000, reference="RF-1", idempotency_key="rf-1"
    )

    assert isinstance(created, CarrierHold)
    assert (created.status, created.points, created.member_ref) == ("held", 5000, HONG)
    assert (created.reference, created.idempotency_key) == ("CHK-1", "hold-1")
    assert created.expires_at == expires_at
    assert created.available == 75000
    assert created.refunded_points == 0
    hold_txn = created.transaction("hold")
    assert isinstance(hold_txn, CarrierTransaction)
    assert (hold_txn.points, hold_txn.idempotency_key, hold_txn.hold_id) == (
        5000,
        "hold-1",
        created.hold_id,
    )
    assert created.transaction("capture") is None
    assert captured.status == "captured"
    assert captured.transaction("capture").idempotency_key == "cap-1"
    assert isinstance(refund, CarrierRefund)
    assert refund.refund_id.startswith("rfd_")
    assert refund.points == 2000
    assert refund.hold.refunded_points == 2000
    assert (refund.transaction.type, refund.transaction.reference) == ("refund", "RF-1")
    assert hold_get(hold_id=created.hold_id) == refund.hold
    assert member_get(member_ref=HONG).balance == 77000


def test_capture_of_a_captured_hold_returns_it(carrier_points):
    created = hold()
    first = hold_capture(hold_id=created.hold_id, idempotency_key="cap-1")

    second = hold_capture(hold_id=created.hold_id, idempotency_key="cap-2")

    assert second.status == "captured"
    assert second.transactions == first.transactions
    assert member_get(member_ref=HONG).balance == 75000


def test_a_hold_is_released_and_release_again_returns_it(carrier_points):
    created = hold()

    released = hold_release(hold_id=created.hold_id, idempotency_key="rel-1")
    again = hold_release(hold_id=created.hold_id, idempotency_key="rel-2")

    assert released.status == "released"
    assert released.transaction("release").idempotency_key == "rel-1"
    assert again.transactions == released.transactions
    assert member_get(member_ref=HONG).available == 80000


def test_void_releases_a_hold_by_its_key_or_tombstones_the_key(carrier_points):
    hold(key="hold-1")

    voided = hold_void(hold_key="hold-1", idempotency_key="void-1")
    tombstoned = hold_void(hold_key="hold-never", idempotency_key="void-2")

    assert isinstance(voided, CarrierHold)
    assert voided.status == "released"
    assert tombstoned is None
    with pytest.raises(CarrierRefused) as caught:
        hold(key="hold-never")
    assert caught.value.error == "key_voided"
    assert member_get(member_ref=HONG).available == 80000


def test_transactions_of_a_seoul_day_are_listed(carrier_points):
    carrier_points.state("carrier", now="2026-01-05T14:30:00+00:00")  # 23:30 in Seoul
    created = hold_create(
        member_ref=HONG,
        points=1000,
        reference="CHK-1",
        expires_at=datetime(2026, 1, 6, tzinfo=UTC),
        idempotency_key="hold-1",
    )

    listed = transactions_list(day=date(2026, 1, 5))

    assert listed == list(created.transactions)
    assert listed[0].created_at == datetime(2026, 1, 5, 14, 30, tzinfo=UTC)
    assert transactions_list(day=date(2026, 1, 6)) == []


def test_an_expired_hold_is_read_as_expired(carrier_points):
    created = hold()
    carrier_points.state("carrier", now=(created.expires_at + timedelta(seconds=1)).isoformat())

    current = hold_get(hold_id=created.hold_id)

    assert current.status == "expired"
    assert current.transaction("release").idempotency_key is None


# --- refusals ------------------------------------------------------------------------------


def test_insufficient_points_is_a_refusal_with_the_available_points(carrier_points):
    with pytest.raises(CarrierRefused) as caught:
        hold(points=90000)

    assert caught.value.error == "insufficient_points"
    assert caught.value.status == 409
    assert caught.value.body["available"] == 80000
    assert caught.value.code == "carrier_refused"
    assert carrier_holds(carrier_points) == []


def test_a_wrong_code_is_a_refusal_with_attempts_left(carrier_points):
    carrier_points.state("carrier", fixed_code="123456")
    challenge = otp_send(phone_e164=HONG_PHONE, idempotency_key="otp-1")

    with pytest.raises(CarrierRefused) as first:
        otp_verify(challenge_id=challenge.challenge_id, code="000000")
    with pytest.raises(CarrierRefused) as second:
        otp_verify(challenge_id=challenge.challenge_id, code="000000")  # a fresh key each try

    assert (first.value.error, first.value.status) == ("code_mismatch", 400)
    assert first.value.body["attempts_left"] == 4
    assert second.value.body["attempts_left"] == 3


def test_capturing_a_released_hold_is_refused_with_the_hold(carrier_points):
    created = hold()
    hold_release(hold_id=created.hold_id, idempotency_key="rel-1")

    with pytest.raises(CarrierRefused) as caught:
        hold_capture(hold_id=created.hold_id, idempotency_key="cap-1")

    assert caught.value.error == "hold_not_held"
    assert isinstance(caught.value.hold, CarrierHold)
    assert caught.value.hold.status == "released"
    assert caught.value.body["hold"]["hold_id"] == created.hold_id
    assert member_get(member_ref=HONG).balance == 80000


def test_voiding_a_captured_hold_is_refused_with_the_hold(carrier_points):
    created = hold(key="hold-1")
    hold_capture(hold_id=created.hold_id, idempotency_key="cap-1")

    with pytest.raises(CarrierRefused) as caught:
        hold_void(hold_key="hold-1", idempotency_key="void-1")

    assert caught.value.error == "hold_not_held"
    assert caught.value.hold.status == "captured"


def test_a_4xx_is_not_retried(carrier_points):
    with pytest.raises(CarrierRefused):
        hold(points=90000)

    assert len(hold_posts(carrier_points)) == 1


def test_an_unknown_hold_is_a_refusal(carrier_points):
    with pytest.raises(CarrierRefused) as caught:
        hold_get(hold_id="hld_nope")

    assert (caught.value.error, caught.value.status) == ("unknown_hold", 404)
    assert caught.value.hold is None


# --- retries and the idempotency key -------------------------------------------------------


def test_a_timeout_is_retried_with_the_same_key_and_holds_once(carrier_points):
    carrier_points.faults("carrier", timeout_next=1, timeout_seconds=30)

    created = hold(key="hold-1")

    assert created.idempotency_key == "hold-1"
    assert [r["fault"] for r in hold_posts(carrier_points)] == ["timeout", None]
    [only] = carrier_holds(carrier_points)
    assert only["hold_id"] == created.hold_id
    assert carrier_points.state("carrier")["idempotency_keys"] == ["hold-1"]
    assert member_get(member_ref=HONG).held == 5000


def test_a_dropped_answer_is_retried_with_the_same_key_and_replayed(carrier_points):
    carrier_points.state("carrier", drop_next=1)

    created = hold(key="hold-1")

    [only] = carrier_holds(carrier_points)
    assert only["hold_id"] == created.hold_id
    assert len(hold_posts(carrier_points)) == 2  # the dropped one, then the replay
    assert member_get(member_ref=HONG).held == 5000


@pytest.mark.parametrize("fault", ["fail_next", "malformed_next"])
def test_failed_and_malformed_answers_are_retried(carrier_points, fault):
    carrier_points.faults("carrier", **{fault: 2})

    created = hold(key="hold-1")

    assert created.status == "held"
    assert len(hold_posts(carrier_points)) == 3
    assert len(carrier_holds(carrier_points)) == 1


def test_a_429_is_retried_then_unavailable(carrier_points):
    for number in range(5):  # the carrier sends at most 5 codes per phone in 10 minutes
        otp_send(phone_e164=HONG_PHONE, idempotency_key=f"otp-{number}")

    with pytest.raises(CarrierUnavailable):
        otp_send(phone_e164=HONG_PHONE, idempotency_key="otp-6")

    sends = [r for r in carrier_points.requests("carrier") if r["path"].endswith("/otp/send")]
    assert len(sends) == 5 + 3  # the refused one was tried 1 + CARRIER_POINTS_RETRIES times
    assert len(carrier_points.state("carrier")["sms"]) == 5


def test_no_usable_answer_is_unavailable_and_nothing_is_held(carrier_points):
    carrier_points.faults("carrier", fail_next=100)

    with pytest.raises(CarrierUnavailable) as caught:
        hold(key="hold-1")

    assert caught.value.code == "carrier_unavailable"
    assert len(hold_posts(carrier_points)) == 3  # 1 + CARRIER_POINTS_RETRIES
    carrier_points.reset("carrier")  # faults off, data back to the demo members
    assert carrier_holds(carrier_points) == []


def test_unavailable_after_all_timeouts_holds_nothing(carrier_points):
    carrier_points.faults("carrier", timeout_next=100, timeout_seconds=30)

    with pytest.raises(CarrierUnavailable):
        hold(key="hold-1")

    assert len(hold_posts(carrier_points)) == 3
    assert carrier_holds(carrier_points) == []


def test_a_dropped_hold_without_retries_is_found_and_voided_by_its_key(carrier_points, settings):
    settings.CARRIER_POINTS_RETRIES = 0
    carrier_points.state("carrier", drop_next=1)

    with pytest.raises(CarrierUnavailable):
        hold(key="hold-1")
    voided = hold_void(hold_key="hold-1", idempotency_key="void-1")

    assert voided is not None
    assert voided.idempotency_key == "hold-1"
    assert voided.status == "released"
    assert hold_get(hold_id=voided.hold_id) == voided
    assert len(carrier_holds(carrier_points)) == 1  # applied once, never twice
    assert member_get(member_ref=HONG).available == 80000


def test_an_unreachable_carrier_is_unavailable(carrier_points, settings):
    settings.CARRIER_POINTS_URL = "http://127.0.0.1:9/carrier"  # discard port: refused

    with pytest.raises(CarrierUnavailable):
        member_get(member_ref=HONG)


# --- logs ----------------------------------------------------------------------------------


def test_the_phone_never_reaches_the_logs_whole(carrier_points, caplog):
    caplog.set_level(logging.DEBUG)
    carrier_points.state("carrier", fixed_code="123456")
    carrier_points.faults("carrier", fail_next=1, malformed_next=1)

    challenge = otp_send(phone_e164=HONG_PHONE, idempotency_key="otp-1")
    member = otp_verify(challenge_id=challenge.challenge_id, code="123456")
    carrier_points.faults("carrier", fail_next=100)
    with pytest.raises(CarrierUnavailable) as caught:
        otp_send(phone_e164=HONG_PHONE, idempotency_key="otp-2")

    assert member.phone == HONG_PHONE
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    for whole in (HONG_PHONE, HONG_PHONE[1:], "01012345678", "12345678"):
        assert whole not in logged
        assert whole not in str(caught.value)
    assert "+8210****5678" in caplog.text
