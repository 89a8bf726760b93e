"""The one Stripe client: PaymentIntents, refunds and webhook verification.

Real HTTP through the ``stripe`` library, against ``STRIPE_API_BASE`` (localstripe through
sandbox/stripe_local.py in development and tests, https://api.stripe.com in production),
with a timeout (``STRIPE_TIMEOUT_SECONDS``) and bounded retries (``STRIPE_MAX_RETRIES``:
the library retries connection errors, timeouts, 409 and 5xx with backoff). Every write
carries the caller's idempotency key, so the library's retries and ours after a crash or a
timeout reach Stripe as the same request: it replays the first answer instead of paying or
refunding twice. Callers store the key before calling.

Functions return small frozen dataclasses, never stripe objects. Failures raise:

- ``StripeUnavailable`` (``payment_provider_unavailable``): no usable answer (timeout,
  connection, 5xx, 429, a request with the same key still in flight). Transient: retry
  later with the same idempotency key.
- ``StripeRequestRefused`` (``payment_provider_refused``): Stripe refused the request (4xx).
  Retrying the same request will not help; ``stripe_code`` says why.
- ``StripeSignatureInvalid`` (``stripe_signature_invalid``): a webhook we must not trust.

Amounts are KRW, a zero-decimal currency: ``amount=15000`` is ₩15,000.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import stripe
from django.conf import settings
from django.utils.translation import gettext

from storefront.errors import ApplicationError

logger = logging.getLogger(__name__)

CURRENCY = "krw"
# Stripe's answer when an intent can no longer be cancelled (already cancelled, succeeded).
UNEXPECTED_STATE = "payment_intent_unexpected_state"


class PaymentProviderError(ApplicationError):
    """Something went wrong talking to Stripe. ``detail`` is for logs, never for shoppers."""

    code = "payment_provider_error"

    def __init__(
        self,
        message: str,
        *,
        detail: str = "",
        http_status: int | None = None,
        stripe_code: str = "",
        code: str | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.detail = detail
        self.http_status = http_status
        self.stripe_code = stripe_code


class StripeUnavailable(PaymentProviderError):
    """No usable answer from Stripe (timeout, connection, 5xx, 429): retry later with the
    same idempotency key."""

    code = "payment_provider_unavailable"


class StripeRequestRefused(PaymentProviderError):
    """Stripe refused the request (4xx); ``stripe_code`` is Stripe's error code, if any."""

    code = "payment_provider_refused"


class StripeSignatureInvalid(PaymentProviderError):
    """A webhook whose signature, timestamp or body cannot be trusted."""

    code = "stripe_signature_invalid"


@dataclass(frozen=True)
class PaymentIntentData:
    """What we use of a PaymentIntent. ``amount`` is in won; the error fields describe the
    last failed attempt (empty when there is none)."""

    id: str
    client_secret: str
    status: str
    amount: int
    currency: str
    last_error_code: str
    last_error_message: str


@dataclass(frozen=True)
class RefundData:
    """What we use of a Refund (``amount`` in won; ``status``: pending, succeeded, failed,
    canceled, requires_action)."""

    id: str
    status: str
    amount: int


def payment_intent_create(
    *,
    amount_krw: int,
    idempotency_key: str,
    metadata: Mapping[str, str],
    description: str = "",
) -> PaymentIntentData:
    """Create a card PaymentIntent for ``amount_krw`` won. The same ``idempotency_key``
    with the same arguments returns the same intent (never a second one); with other
    arguments Stripe refuses (``StripeRequestRefused``)."""
    _check_amount(amount_krw)
    params: dict[str, Any] = {
        "amount": amount_krw,
        "currency": CURRENCY,
        "payment_method_types": ["card"],
        "metadata": dict(metadata),
    }
    if description:
        params["description"] = description
    with _stripe_call("payment_intent_create"):
        intent = _client().v1.payment_intents.create(
            params=params, options={"idempotency_key": idempotency_key}
        )
    return _payment_intent_data(intent)


def payment_intent_retrieve(*, payment_intent_id: str) -> PaymentIntentData:
    """The PaymentIntent as Stripe has it now."""
    with _stripe_call("payment_intent_retrieve"):
        intent = _client().v1.payment_intents.retrieve(payment_intent_id)
    return _payment_intent_data(intent)


def payment_intent_cancel(*, payment_intent_id: str, idempotency_key: str) -> PaymentIntentData:
    """Cancel the PaymentIntent so it can no longer be paid. When Stripe says it is too late
    (already cancelled, succeeded, processing) this returns the intent's current state
    instead of raising: the caller decides from ``status`` (a succeeded one needs a refund)."""
    try:
        with _stripe_call("payment_intent_cancel"):
            intent = _client().v1.payment_intents.cancel(
                payment_intent_id, options={"idempotency_key": idempotency_key}
            )
    except StripeRequestRefused as exc:
        if exc.stripe_code != UNEXPECTED_STATE:
            raise
        return payment_intent_retrieve(payment_intent_id=payment_intent_id)
    return _payment_intent_data(intent)


def refund_create(
    *,
    payment_intent_id: str,
    amount_krw: int,
    idempotency_key: str,
    metadata: Mapping[str, str],
) -> RefundData:
    """Refund ``amount_krw`` won of the intent's charge (the whole amount or part of it).
    The same ``idempotency_key`` returns the same refund, never a second one; Stripe
    refuses more than what is left to refund (``StripeRequestRefused``)."""
    _check_amount(amount_krw)
    with _stripe_call("refund_create"):
        refund = _client().v1.refunds.create(
            params={
                "payment_intent": payment_intent_id,
                "amount": amount_krw,
                "metadata": dict(metadata),
            },
            options={"idempotency_key": idempotency_key},
        )
    data = refund.to_dict()
    return RefundData(id=data["id"], status=data["status"], amount=int(data["amount"]))


def webhook_event_construct(*, payload: bytes, signature_header: str) -> dict[str, Any]:
    """The webhook event as a dict, once its ``Stripe-Signature`` proves it comes from
    Stripe (``STRIPE_WEBHOOK_SECRET``) within ``STRIPE_WEBHOOK_TOLERANCE_SECONDS``; raises
    ``StripeSignatureInvalid`` otherwise (bad or missing signature, stale timestamp,
    a body that is not a JSON event)."""
    try:
        stripe.WebhookSignature.verify_header(
            payload,
            signature_header,
            settings.STRIPE_WEBHOOK_SECRET,
            tolerance=settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
        )
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, ValueError) as exc:
        raise _signature_invalid(str(exc)) from exc
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise _signature_invalid("the body is not an event")
    return event


# --- Internals --------------------------------------------------------------------------


def _client() -> stripe.StripeClient:
    return _client_for(
        api_key=settings.STRIPE_SECRET_KEY,
        api_base=settings.STRIPE_API_BASE,
        timeout_seconds=float(settings.STRIPE_TIMEOUT_SECONDS),
        max_retries=int(settings.STRIPE_MAX_RETRIES),
    )


@functools.lru_cache(maxsize=8)
def _client_for(
    *, api_key: str, api_base: str, timeout_seconds: float, max_retries: int
) -> stripe.StripeClient:
    """One client per configuration (tests point settings elsewhere); it is thread-safe
    (the requests session is per thread)."""
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base.rstrip("/")},
        max_network_retries=max_retries,
        http_client=stripe.RequestsClient(timeout=timeout_seconds),
    )


def _check_amount(amount_krw: int) -> None:
    if isinstance(amount_krw, bool) or not isinstance(amount_krw, int) or amount_krw <= 0:
        raise ValueError(f"amount_krw must be a positive whole number of won: {amount_krw!r}")


def _payment_intent_data(intent: stripe.PaymentIntent) -> PaymentIntentData:
    data = intent.to_dict()
    error = data.get("last_payment_error") or {}
    return PaymentIntentData(
        id=data["id"],
        client_secret=data.get("client_secret") or "",
        status=data["status"],
        amount=int(data["amount"]),
        currency=data["currency"],
        last_error_code=error.get("code") or "",
        last_error_message=error.get("message") or "",
    )


def _signature_invalid(detail: str) -> StripeSignatureInvalid:
    return StripeSignatureInvalid(
        gettext("This payment notification could not be verified."), detail=detail
    )


@contextmanager
def _stripe_call(operation: str) -> Iterator[None]:
    """Turn the library's errors into ours (module docstring), logged without secrets."""
    try:
        yield
    except stripe.StripeError as exc:
        status = exc.http_status
        stripe_code = getattr(getattr(exc, "error", None), "code", None) or exc.code or ""
        detail = f"Stripe {operation}: {type(exc).__name__} {status or '-'} {stripe_code}".strip()
        transient = (
            isinstance(exc, stripe.APIConnectionError)
            or status is None
            or status >= 500
            or status in (409, 429)
        )
        logger.warning("%s: %s (request id %s)", detail, exc.user_message, exc.request_id)
        if transient:
            raise StripeUnavailable(
                gettext(
                    "The payment service is not responding right now. Please try again in a moment."
                ),
                detail=detail,
                http_status=status,
                stripe_code=stripe_code,
            ) from exc
        raise StripeRequestRefused(
            gettext("The payment could not be processed. Please try again or contact us."),
            detail=f"{detail}: {exc.user_message}",
            http_status=status,
            stripe_code=stripe_code,
        ) from exc
