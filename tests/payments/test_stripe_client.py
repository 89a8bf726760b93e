"""orders/stripe_client.py over real HTTP against the Stripe stand-in (localstripe +
sandbox/stripe_local.py): amounts in won, cards, refunds, idempotency, faults, webhooks."""

from __future__ import annotations

import contextlib
import json
import socket
import time
import uuid

import pytest
import stripe

from orders.stripe_client import (
    PaymentIntentData,
    RefundData,
    StripeRequestRefused,
    StripeSignatureInvalid,
    StripeUnavailable,
    payment_intent_cancel,
    payment_intent_create,
    payment_intent_retrieve,
    refund_create,
    webhook_event_construct,
)
from storefront.errors import ApplicationError

CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000000002"  # localstripe declines it only when attaching; Stripe charges
CARD_DECLINED_ON_CHARGE = "4000000000000341"
CARD_3DS = "4000002500003155"


def create_intent(*, amount_krw: int = 15000, key: str | None = None) -> PaymentIntentData:
    return payment_intent_create(
        amount_krw=amount_krw,
        idempotency_key=key or f"test-payment-{uuid.uuid4()}",
        metadata={"order_number": "GS-20250601-0001"},
        description="Global Store GS-20250601-0001",
    )


@pytest.fixture
def paid_intent(stripe_local, stripe_confirm_card) -> PaymentIntentData:
    intent = create_intent(amount_krw=15000)
    assert stripe_confirm_card(intent.id, intent.client_secret, CARD_OK)["status"] == "succeeded"
    return intent


def refund(intent: PaymentIntentData, amount_krw: int, key: str | None = None) -> RefundData:
    return refund_create(
        payment_intent_id=intent.id,
        amount_krw=amount_krw,
        idempotency_key=key or f"test-refund-{uuid.uuid4()}",
        metadata={"order_number": "GS-20250601-0001"},
    )


# --- PaymentIntents ---------------------------------------------------------------------


def test_create_asks_for_a_card_payment_in_won(stripe_local):
    intent = create_intent(amount_krw=15000)

    assert intent.amount == 15000  # KRW is zero-decimal: ₩15,000 is 15000, not 1500000
    assert intent.currency == "krw"
    assert intent.status == "requires_payment_method"
    assert intent.client_secret.startswith(f"{intent.id}_secret_")
    assert (intent.last_error_code, intent.last_error_message) == ("", "")
    [stored] = stripe_local.objects("payment_intent")
    assert stored["id"] == intent.id
    assert stored["amount"] == 15000
    assert stored["metadata"] == {"order_number": "GS-20250601-0001"}
    assert stored["description"] == "Global Store GS-20250601-0001"
    assert stripe_local.objects("charge") == []


def test_a_good_card_pays(stripe_local, stripe_confirm_card):
    intent = create_intent()

    answer = stripe_confirm_card(intent.id, intent.client_secret, CARD_OK)

    assert answer["status"] == "succeeded"
    now = payment_intent_retrieve(payment_intent_id=intent.id)
    assert now.status == "succeeded"
    assert now.amount == 15000
    assert now.last_error_code == ""
    [charge] = stripe_local.objects("charge")
    assert (charge["status"], charge["amount"], charge["currency"]) == ("succeeded", 15000, "krw")


@pytest.mark.parametrize("card", [CARD_DECLINED_ON_CHARGE, CARD_DECLINED])
def test_a_declined_card_leaves_the_intent_waiting_for_another_card(
    stripe_local, stripe_confirm_card, card
):
    intent = create_intent()

    answer = stripe_confirm_card(intent.id, intent.client_secret, card)

    error = answer["error"]
    assert (error["type"], error["code"]) == ("card_error", "card_declined")
    assert error["payment_intent"]["status"] == "requires_payment_method"
    now = payment_intent_retrieve(payment_intent_id=intent.id)
    assert now.status == "requires_payment_method"
    assert now.last_error_code == "card_declined"
    assert now.last_error_message == "Your card was declined."
    assert [charge["status"] for charge in stripe_local.objects("charge")] == ["failed"]


def test_after_a_decline_another_card_pays(stripe_local, stripe_confirm_card):
    intent = create_intent()
    stripe_confirm_card(intent.id, intent.client_secret, CARD_DECLINED)

    answer = stripe_confirm_card(intent.id, intent.client_secret, CARD_OK)

    assert answer["status"] == "succeeded"
    now = payment_intent_retrieve(payment_intent_id=intent.id)
    assert (now.status, now.last_error_code) == ("succeeded", "")
    charges = stripe_local.objects("charge")
    assert sorted(charge["status"] for charge in charges) == ["failed", "succeeded"]


def test_a_3d_secure_card_waits_for_authentication(stripe_local, stripe_confirm_card):
    intent = create_intent()

    answer = stripe_confirm_card(intent.id, intent.client_secret, CARD_3DS)

    assert answer["status"] == "requires_action"
    assert payment_intent_retrieve(payment_intent_id=intent.id).status == "requires_action"
    assert stripe_local.objects("charge") == []  # nothing charged before authentication

    stripe_local.authenticate(intent.id, intent.client_secret, success=True)

    assert payment_intent_retrieve(payment_intent_id=intent.id).status == "succeeded"


def test_a_failed_3d_secure_leaves_the_intent_waiting_for_another_card(
    stripe_local, stripe_confirm_card
):
    intent = create_intent()
    stripe_confirm_card(intent.id, intent.client_secret, CARD_3DS)

    stripe_local.authenticate(intent.id, intent.client_secret, success=False)

    now = payment_intent_retrieve(payment_intent_id=intent.id)
    assert now.status == "requires_payment_method"
    assert now.last_error_code == "payment_intent_authentication_failure"
    assert stripe_local.objects("charge") == []


def test_an_unknown_intent_is_refused(stripe_local):
    with pytest.raises(StripeRequestRefused) as refused:
        payment_intent_retrieve(payment_intent_id="pi_doesnotexist")

    assert refused.value.code == "payment_provider_refused"
    assert refused.value.http_status == 404
    assert isinstance(refused.value, ApplicationError)


def test_cancel_then_cancel_again_returns_the_cancelled_intent(stripe_local):
    intent = create_intent()

    first = payment_intent_cancel(payment_intent_id=intent.id, idempotency_key="cancel-1")
    again = payment_intent_cancel(payment_intent_id=intent.id, idempotency_key="cancel-2")

    assert first.status == "canceled"
    assert again.status == "canceled"
    assert again.id == intent.id


def test_cancelling_a_paid_intent_returns_it_paid(stripe_local, paid_intent):
    now = payment_intent_cancel(payment_intent_id=paid_intent.id, idempotency_key="cancel-1")

    assert now.status == "succeeded"
    assert stripe_local.objects("refund") == []


# --- Refunds ----------------------------------------------------------------------------


def test_a_full_refund(stripe_local, paid_intent):
    result = refund(paid_intent, 15000)

    assert result.status == "succeeded"
    assert result.amount == 15000
    [stored] = stripe_local.objects("refund")
    assert stored["id"] == result.id
    assert stored["payment_intent"] == paid_intent.id
    assert stored["metadata"] == {"order_number": "GS-20250601-0001"}
    [charge] = stripe_local.objects("charge")
    assert (charge["amount_refunded"], charge["refunded"]) == (15000, True)


def test_partial_refunds_up_to_the_amount_paid(stripe_local, paid_intent):
    first = refund(paid_intent, 5000)
    second = refund(paid_intent, 10000)

    assert (first.amount, second.amount) == (5000, 10000)
    with pytest.raises(StripeRequestRefused) as refused:
        refund(paid_intent, 1)

    assert refused.value.stripe_code == "charge_already_refunded"
    assert len(stripe_local.objects("refund")) == 2
    [charge] = stripe_local.objects("charge")
    assert charge["amount_refunded"] == 15000


def test_a_refund_above_what_is_left_is_refused(stripe_local, paid_intent):
    refund(paid_intent, 5000)

    with pytest.raises(StripeRequestRefused) as refused:
        refund(paid_intent, 10001)

    assert refused.value.stripe_code == "amount_too_large"
    assert [stored["amount"] for stored in stripe_local.objects("refund")] == [5000]


def test_an_unpaid_intent_cannot_be_refunded(stripe_local):
    intent = create_intent()

    with pytest.raises(StripeRequestRefused):
        refund(intent, 15000)

    assert stripe_local.objects("refund") == []


# --- Idempotency ------------------------------------------------------------------------


def test_creating_again_with_the_same_key_returns_the_same_intent(stripe_local):
    first = create_intent(key="order-1-payment-1")
    again = create_intent(key="order-1-payment-1")

    assert again == first
    assert len(stripe_local.objects("payment_intent")) == 1
    assert [r["replayed"] for r in stripe_local.requests()] == [False, True]


def test_the_same_key_with_other_parameters_is_refused(stripe_local):
    first = create_intent(amount_krw=15000, key="order-1-payment-1")

    with pytest.raises(StripeRequestRefused) as refused:
        create_intent(amount_krw=16000, key="order-1-payment-1")

    assert refused.value.http_status == 400
    [stored] = stripe_local.objects("payment_intent")
    assert (stored["id"], stored["amount"]) == (first.id, 15000)


def test_a_refund_applied_but_unanswered_is_not_repeated_by_a_retry(
    stripe_local, paid_intent, settings
):
    settings.STRIPE_MAX_RETRIES = 0
    stripe_local.faults(drop_next=1)

    with pytest.raises(StripeUnavailable):
        refund(paid_intent, 5000, key="order-1-refund-1")
    [applied] = stripe_local.objects("refund")  # the connection dropped after the refund

    retried = refund(paid_intent, 5000, key="order-1-refund-1")

    assert retried.id == applied["id"]
    assert retried.amount == 5000
    assert len(stripe_local.objects("refund")) == 1
    [charge] = stripe_local.objects("charge")
    assert charge["amount_refunded"] == 5000


def test_the_library_retries_a_dropped_answer_with_the_same_key(stripe_local, paid_intent):
    stripe_local.faults(drop_next=1)

    result = refund(paid_intent, 5000, key="order-1-refund-1")

    [stored] = stripe_local.objects("refund")
    assert result.id == stored["id"]
    refunds = [r for r in stripe_local.requests() if r["path"] == "/v1/refunds"]
    assert [(r["fault"], r["replayed"]) for r in refunds] == [("drop", False), (None, True)]
    assert {r["idempotency_key"] for r in refunds} == {"order-1-refund-1"}


# --- Faults -----------------------------------------------------------------------------


def test_a_timeout_is_unavailable_and_creates_nothing(stripe_local, settings):
    settings.STRIPE_TIMEOUT_SECONDS = 0.5
    settings.STRIPE_MAX_RETRIES = 1
    stripe_local.faults(timeout_next=5, timeout_seconds=30)

    with pytest.raises(StripeUnavailable) as unavailable:
        create_intent(key="order-1-payment-1")

    assert unavailable.value.code == "payment_provider_unavailable"
    assert stripe_local.objects("payment_intent") == []
    # One retry, bounded, with the same key.
    requests = stripe_local.requests()
    assert [r["fault"] for r in requests] == ["timeout", "timeout"]
    assert {r["idempotency_key"] for r in requests} == {"order-1-payment-1"}


def test_5xx_answers_are_retried_then_unavailable(stripe_local, settings):
    settings.STRIPE_MAX_RETRIES = 1
    stripe_local.faults(fail_next=5, fail_status=503)

    with pytest.raises(StripeUnavailable) as unavailable:
        create_intent()

    assert unavailable.value.http_status == 503
    assert len(stripe_local.requests()) == 2
    assert stripe_local.objects("payment_intent") == []


def test_a_5xx_then_success_creates_one_intent(stripe_local, settings):
    settings.STRIPE_MAX_RETRIES = 1
    stripe_local.faults(fail_next=1, fail_status=500)

    intent = create_intent()

    assert [stored["id"] for stored in stripe_local.objects("payment_intent")] == [intent.id]


def test_rate_limited_is_unavailable_without_retrying(stripe_local, settings):
    settings.STRIPE_MAX_RETRIES = 2
    stripe_local.faults(fail_next=5, fail_status=429)

    with pytest.raises(StripeUnavailable) as unavailable:
        create_intent()

    assert unavailable.value.http_status == 429
    assert len(stripe_local.requests()) == 1


@contextlib.contextmanager
def unused_port():
    """A port nothing listens on (bound but not listening, so nobody else takes it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_no_server_is_unavailable(stripe_local, settings):
    settings.STRIPE_MAX_RETRIES = 0
    with unused_port() as port:
        settings.STRIPE_API_BASE = f"http://127.0.0.1:{port}"

        with pytest.raises(StripeUnavailable):
            create_intent()


def test_amounts_must_be_positive_won(stripe_local):
    for amount in (0, -1, 150.0, True):
        with pytest.raises(ValueError, match="amount_krw"):
            create_intent(amount_krw=amount)

    assert stripe_local.requests() == []


# --- Webhooks ---------------------------------------------------------------------------


def test_a_payment_webhook_is_delivered_signed_and_accepted(
    stripe_local, stripe_webhook_receiver, stripe_confirm_card
):
    intent = create_intent()
    stripe_confirm_card(intent.id, intent.client_secret, CARD_OK)

    delivery = stripe_webhook_receiver.wait_for("payment_intent.succeeded")
    event = webhook_event_construct(payload=delivery.body, signature_header=delivery.signature)

    assert event["type"] == "payment_intent.succeeded"
    assert event["id"].startswith("evt_")
    payment = event["data"]["object"]
    assert (payment["id"], payment["amount"], payment["status"]) == (intent.id, 15000, "succeeded")
    assert payment["metadata"] == {"order_number": "GS-20250601-0001"}


def test_a_decline_sends_payment_failed(stripe_local, stripe_webhook_receiver, stripe_confirm_card):
    intent = create_intent()
    stripe_confirm_card(intent.id, intent.client_secret, CARD_DECLINED)

    delivery = stripe_webhook_receiver.wait_for("payment_intent.payment_failed")
    event = webhook_event_construct(payload=delivery.body, signature_header=delivery.signature)

    payment = event["data"]["object"]
    assert payment["id"] == intent.id
    assert payment["last_payment_error"]["code"] == "card_declined"
    assert "payment_intent.succeeded" not in [
        d.event["type"] for d in stripe_webhook_receiver.deliveries
    ]


def test_cancel_and_refund_send_their_events(stripe_local, stripe_webhook_receiver, paid_intent):
    refund(paid_intent, 15000)
    other = create_intent()
    payment_intent_cancel(payment_intent_id=other.id, idempotency_key="cancel-1")

    refunded = stripe_webhook_receiver.wait_for("charge.refunded").event
    canceled = stripe_webhook_receiver.wait_for("payment_intent.canceled").event

    assert refunded["data"]["object"]["payment_intent"] == paid_intent.id
    assert refunded["data"]["object"]["amount_refunded"] == 15000
    assert canceled["data"]["object"]["id"] == other.id


def test_a_webhook_signed_with_another_secret_is_refused(
    stripe_local, stripe_webhook_register, stripe_confirm_card
):
    from sandbox.testing import WebhookReceiver

    with WebhookReceiver() as receiver:
        stripe_webhook_register(receiver.url, secret="whsec_someone_else")
        intent = create_intent()
        stripe_confirm_card(intent.id, intent.client_secret, CARD_OK)
        delivery = receiver.wait_for("payment_intent.succeeded")

    with pytest.raises(StripeSignatureInvalid) as invalid:
        webhook_event_construct(payload=delivery.body, signature_header=delivery.signature)

    assert invalid.value.code == "stripe_signature_invalid"


def signed(payload: bytes, *, secret: str, at: int) -> str:
    return stripe.WebhookSignature.generate_signature_header(payload.decode(), secret, timestamp=at)


EVENT = json.dumps({"id": "evt_1", "type": "payment_intent.succeeded", "data": {}}).encode()


def test_a_well_signed_recent_event_is_accepted(settings):
    header = signed(EVENT, secret=settings.STRIPE_WEBHOOK_SECRET, at=int(time.time()))

    assert webhook_event_construct(payload=EVENT, signature_header=header)["id"] == "evt_1"


def test_a_stale_timestamp_is_refused(settings):
    settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS = 300
    stale = int(time.time()) - 3600
    header = signed(EVENT, secret=settings.STRIPE_WEBHOOK_SECRET, at=stale)

    with pytest.raises(StripeSignatureInvalid):
        webhook_event_construct(payload=EVENT, signature_header=header)


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda header: (EVENT.replace(b"evt_1", b"evt_2"), header), id="body"),
        pytest.param(lambda header: (EVENT, ""), id="no-signature"),
        pytest.param(lambda header: (EVENT, "t=1,v1=abc"), id="garbage"),
    ],
)
def test_a_tampered_or_unsigned_event_is_refused(settings, tamper):
    header = signed(EVENT, secret=settings.STRIPE_WEBHOOK_SECRET, at=int(time.time()))
    payload, header = tamper(header)

    with pytest.raises(StripeSignatureInvalid):
        webhook_event_construct(payload=payload, signature_header=header)
