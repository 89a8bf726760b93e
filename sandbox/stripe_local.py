"""localstripe with the gaps our payments code needs closed (development and tests only).

``localstripe`` (PyPI) fakes the Stripe API and Stripe.js in memory. This module serves
its routes from a fresh aiohttp app (``create_app``) and adds what our client and the
checkout page rely on, without touching the installed package:

- ``POST /v1/payment_intents/<id>/_confirm_card`` (``key=pk_...`` + ``client_secret`` in
  the body, like Stripe.js): turns card fields into a PaymentMethod, attaches it and
  confirms. 3D Secure cards → ``requires_action``; declined cards (including the ones
  localstripe only declines when attaching, such as 4000000000000002) → a 402 card error,
  the intent back in ``requires_payment_method`` and ``payment_intent.payment_failed``;
  otherwise ``succeeded`` and ``payment_intent.succeeded``.
- ``POST /v1/payment_intents/<id>/confirm`` with ``payment_method`` (localstripe: 500).
- ``POST /v1/payment_intents`` takes ``description``; ``.../cancel`` answers Stripe's
  ``payment_intent_unexpected_state`` and sends ``payment_intent.canceled``;
  ``POST /v1/refunds`` refuses more than what is left on the charge, takes ``reason`` and
  sends ``charge.refunded``.
- ``Idempotency-Key`` on ``POST /v1/*``: same key and parameters replay the stored answer
  (``Idempotent-Replayed: true``); other parameters or endpoint → 400 ``idempotency_error``.
- ``/js.stripe.com/v3/``: localstripe's fake Stripe.js + ``stripe_local_shim.js``, whose
  ``confirmCardPayment(secret, {payment_method: {card: element}})`` uses the route above.
- ``/_controls``: faults (``/v1/*`` only), reset, request journal, stored objects, webhooks.
- no pickling of the store to ``/tmp/localstripe.pickle`` on every write.

localstripe keeps its objects and webhooks in module globals, so there is one server per
process. Run it: ``python -m sandbox.stripe_local --host 127.0.0.1 --port 8420
[--webhook-url URL --webhook-secret S]``. See sandbox/README.md, "Stripe (localstripe)".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import logging
import random
import time
import warnings
from collections import OrderedDict, deque
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import date
from pathlib import Path
from typing import Any

from aiohttp import web

with warnings.catch_warnings():
    # localstripe registers plain-function handlers on its own app at import, which aiohttp
    # deprecates; create_app wraps them in coroutines for ours.
    warnings.filterwarnings("ignore", "Bare functions are deprecated", DeprecationWarning)
    from localstripe import resources as ls
    from localstripe import server as ls_server
    from localstripe import webhooks as ls_webhooks
    from localstripe.errors import UserError

logger = logging.getLogger("sandbox.stripe_local")

DEFAULT_PORT = 8420
JOURNAL_SIZE = 1000  # a long `make run` must not grow without bound
IDEMPOTENCY_CACHE_SIZE = 10_000
MAX_TIMEOUT_SECONDS = 300.0
CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
CANCELABLE = ("requires_payment_method", "requires_capture", "requires_confirmation")
CANCELABLE += ("requires_action",)

LOCALSTRIPE_JS = Path(ls_server.__file__).with_name("localstripe-v3.js")
SHIM_JS = Path(__file__).with_name("stripe_local_shim.js")


# --- localstripe, adjusted at import ----------------------------------------------------


def _keep_in_memory(*_args: Any, **_kwargs: Any) -> None:
    """localstripe pickles its whole store to /tmp on every write; ours stays in memory."""


ls.store.dump_to_disk = _keep_in_memory

_pending_webhooks: set[asyncio.Future] = set()


def _schedule_webhook(event: ls.Event) -> None:
    """localstripe's delivery (1 s later, to every registered endpoint), but tracked so a
    reset can cancel deliveries still waiting: they must not reach the next test."""
    task = asyncio.ensure_future(ls_webhooks._send_webhook(event))
    _pending_webhooks.add(task)
    task.add_done_callback(_pending_webhooks.discard)


ls.schedule_webhook = _schedule_webhook


# --- State: faults, idempotency, journal ------------------------------------------------


class ControlError(ValueError):
    """A control request that cannot be applied (answered with 400)."""


@dataclass
class Faults:
    """Faults injected into ``/v1/*`` (never into the JS, ``/_config`` or ``/_controls``).

    ``latency_ms`` delays every request until reset. The counters each affect that many
    next requests, one counter per request, in the order timeout, fail, drop:
    ``timeout_next`` holds the request ``timeout_seconds`` then answers 504 without applying
    it; ``fail_next`` answers ``fail_status`` (429 or 5xx) without applying it;
    ``drop_next`` applies the request, then closes the connection without answering.
    ``fail_ratio`` (0 to 1) then fails that share of the remaining requests like
    ``fail_next``, drawn from a generator seeded with ``fail_seed`` (reseeded on every
    fault change), so a run is repeatable.
    """

    latency_ms: int = 0
    fail_next: int = 0
    fail_status: int = 500
    timeout_next: int = 0
    timeout_seconds: float = 30.0
    drop_next: int = 0
    fail_ratio: float = 0.0
    fail_seed: int = 0

    def __post_init__(self) -> None:
        self._random = random.Random(self.fail_seed)

    def update(self, changes: Mapping[str, Any]) -> None:
        """Merge ``changes``, all or nothing; ``ControlError`` names what is wrong."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ControlError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
        merged = asdict(self)
        for name, value in changes.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ControlError(f"{name} must be a number, not negative")
            if name == "timeout_seconds":
                if not 0 < value <= MAX_TIMEOUT_SECONDS:
                    raise ControlError(f"timeout_seconds must be in (0, {MAX_TIMEOUT_SECONDS}]")
                merged[name] = float(value)
                continue
            if name == "fail_ratio":
                if value > 1:
                    raise ControlError("fail_ratio must be between 0 and 1")
                merged[name] = float(value)
                continue
            if value != int(value):
                raise ControlError(f"{name} must be a whole number")
            if name == "fail_status" and not (value == 429 or 500 <= value <= 599):
                raise ControlError("fail_status must be 429 or a 5xx status")
            merged[name] = int(value)
        for name, value in merged.items():
            setattr(self, name, value)
        self._random = random.Random(self.fail_seed)

    def take(self) -> str | None:
        """Consume one counter for the current request; the fault it gets, if any."""
        for name in ("timeout", "fail", "drop"):
            if getattr(self, f"{name}_next") > 0:
                setattr(self, f"{name}_next", getattr(self, f"{name}_next") - 1)
                return name
        if self.fail_ratio > 0 and self._random.random() < self.fail_ratio:
            return "fail"
        return None


@dataclass(frozen=True)
class WebhookEndpoint:
    """Where localstripe posts events, signed with ``secret``; ``events=None`` is all."""

    url: str
    secret: str
    events: tuple[str, ...] | None = None


@dataclass
class IdempotentResult:
    """What a POST with an ``Idempotency-Key`` was, and answered (``status`` is None while
    the first request is still being handled)."""

    endpoint: str
    params: str
    status: int | None = None
    body: bytes = b""


class StripeLocalState:
    """Everything our wrapper adds on top of localstripe's store, for one app."""

    def __init__(self, webhooks: Sequence[WebhookEndpoint] = ()) -> None:
        self.startup_webhooks = tuple(webhooks)
        self.faults = Faults()
        self.idempotency: OrderedDict[tuple[str, str], IdempotentResult] = OrderedDict()
        self.journal: deque[dict[str, Any]] = deque(maxlen=JOURNAL_SIZE)
        self.request_count = 0
        self._wake = asyncio.Event()
        for endpoint in self.startup_webhooks:
            self.webhook_register(endpoint)

    def reset(self) -> None:
        """Empty store, no faults, no idempotency results, no journal, only the webhooks
        given at startup, no delivery still pending; wakes requests held by a fault."""
        ls.store.clear()
        for task in list(_pending_webhooks):
            task.cancel()
        ls_webhooks._webhooks.clear()
        for endpoint in self.startup_webhooks:
            self.webhook_register(endpoint)
        self.faults = Faults()
        self.idempotency.clear()
        self.journal.clear()
        self.request_count = 0
        self._wake.set()
        self._wake = asyncio.Event()

    def webhook_register(self, endpoint: WebhookEndpoint, webhook_id: str | None = None) -> str:
        """Register (or replace, by id) a webhook endpoint; returns its id."""
        webhook_id = webhook_id or f"wh_{len(ls_webhooks._webhooks) + 1}"
        events = list(endpoint.events) if endpoint.events is not None else None
        ls_webhooks.register_webhook(webhook_id, endpoint.url, endpoint.secret, events)
        return webhook_id

    async def hold(self, seconds: float) -> None:
        """Sleep ``seconds``, or less when a reset wakes every held request."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    def remember(self, scope: tuple[str, str], result: IdempotentResult) -> None:
        self.idempotency[scope] = result
        while len(self.idempotency) > IDEMPOTENCY_CACHE_SIZE:
            self.idempotency.popitem(last=False)

    def forget(self, scope: tuple[str, str], result: IdempotentResult) -> None:
        if self.idempotency.get(scope) is result:
            del self.idempotency[scope]

    def as_json(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for key in ls.store:
            kind = key.split(":", 1)[0]
            counts[kind] = counts.get(kind, 0) + 1
        return {
            "faults": asdict(self.faults),
            "objects": counts,
            "webhooks": webhooks_as_json(),
            "idempotency_keys": len(self.idempotency),
            "request_count": self.request_count,
        }


STATE = web.AppKey("stripe_local", StripeLocalState)


def webhooks_as_json() -> list[dict[str, Any]]:
    return [
        {"id": webhook_id, "url": hook.url, "events": hook.events}
        for webhook_id, hook in ls_webhooks._webhooks.items()
    ]


# --- Stripe-shaped answers --------------------------------------------------------------


def stripe_error(status: int, error_type: str, message: str, **extra: Any) -> web.Response:
    """An answer in Stripe's error shape: ``{"error": {"type", "message", ...}}``."""
    return ls_server.json_response(
        {"error": {"type": error_type, "message": message, **extra}}, status=status
    )


def unexpected_state(pi: ls.PaymentIntent, action: str) -> web.Response:
    allowed = CONFIRMABLE if action == "confirm" else CANCELABLE
    return stripe_error(
        400,
        "invalid_request_error",
        f"You cannot {action} this PaymentIntent because it has a status of {pi.status}. "
        f"Only a PaymentIntent with one of the following statuses may be {action}ed: "
        f"{', '.join(allowed)}.",
        code="payment_intent_unexpected_state",
        payment_intent=pi._export(),
    )


# --- Paying: declines, confirm with a card ----------------------------------------------


@dataclass(frozen=True)
class CardDecline:
    """How Stripe declines one of its test cards."""

    code: str
    decline_code: str
    message: str


GENERIC_DECLINE = CardDecline("card_declined", "generic_decline", "Your card was declined.")
# Stripe's declining test cards. localstripe declines some of them only when attaching to
# a customer; real Stripe declines the charge, so they all decline the charge here.
CARD_DECLINES = {
    "4000000000000002": GENERIC_DECLINE,
    "4000000000000341": GENERIC_DECLINE,
    "4000000000009995": CardDecline(
        "card_declined", "insufficient_funds", "Your card has insufficient funds."
    ),
    "4000000000009987": CardDecline("card_declined", "lost_card", "Your card was declined."),
    "4000000000009979": CardDecline("card_declined", "stolen_card", "Your card was declined."),
    "4000000000000069": CardDecline("expired_card", "expired_card", "Your card has expired."),
    "4000000000000127": CardDecline(
        "incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect."
    ),
    "4000000000000119": CardDecline(
        "processing_error",
        "processing_error",
        "An error occurred while processing your card. Try again in a little bit.",
    ),
    "4242424242424241": CardDecline(
        "incorrect_number", "incorrect_number", "Your card number is incorrect."
    ),
}


def _always_declined() -> bool:
    return True


def payment_intent_pay(pi: ls.PaymentIntent, pm: Any) -> web.Response:
    """Attach ``pm`` to ``pi`` and confirm it (a fresh attempt: an earlier failed charge or
    3D Secure step is forgotten). The answer is the intent (200), or a 402 card error with
    the intent in ``requires_payment_method`` and ``payment_intent.payment_failed`` sent."""
    decline = CARD_DECLINES.get(getattr(pm, "_card_number", ""))
    if decline is not None:
        # localstripe decides a charge's fate from the payment method when it is created.
        pm._charging_is_declined = _always_declined
    pi.payment_method = pm.id
    pi.latest_charge = None
    pi.next_action = None
    pi._authentication_failed = False

    def report_failure() -> None:
        charge = pi.latest_charge
        if decline is not None:
            charge.failure_code = decline.code
            charge.failure_message = decline.message
        pi._report_failure()  # webhook, then raises the 402

    try:
        pi._confirm(on_failure_now=report_failure)
    except UserError as exc:
        if exc.code != 402:
            raise
        charge = pi.latest_charge
        error: dict[str, Any] = {
            "code": charge.failure_code,
            "message": charge.failure_message,
            "charge": charge.id,
            "payment_intent": pi._export(),
            "payment_method": pm._export(),
        }
        error["decline_code"] = decline.decline_code if decline else "generic_decline"
        return stripe_error(402, "card_error", **error)
    return ls_server.json_response(pi._export())


def card_errors(card: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """What Stripe says about card fields it cannot use: (code, param, message)."""
    number = "".join(ch for ch in str(card.get("number", "")) if not ch.isspace())
    if not number.isdigit() or len(number) != 16 or not _luhn_ok(number):
        return "invalid_number", "number", "Your card number is invalid."
    month, year = str(card.get("exp_month", "")), str(card.get("exp_year", ""))
    if not month.isdigit() or not 1 <= int(month) <= 12:
        return "invalid_expiry_month", "exp_month", "Your card's expiration month is invalid."
    if not year.isdigit() or len(year) not in (2, 4):
        return "invalid_expiry_year", "exp_year", "Your card's expiration year is invalid."
    full_year = int(year) + (2000 if len(year) == 2 else 0)
    today = date.today()  # noqa: DTZ011 -- a card expires by the shopper's calendar month
    if (full_year, int(month)) < (today.year, today.month) or full_year >= 2100:
        return "invalid_expiry_year", "exp_year", "Your card's expiration year is in the past."
    cvc = str(card.get("cvc", ""))
    if not cvc.isdigit() or len(cvc) != 3:
        return "invalid_cvc", "cvc", "Your card's security code is invalid."
    return None


def _luhn_ok(number: str) -> bool:
    total = 0
    for position, digit in enumerate(reversed(number)):
        value = int(digit) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


# --- Routes we add or replace -----------------------------------------------------------


async def payment_intent_confirm_card(request: web.Request) -> web.Response:
    """Stripe.js's confirmCardPayment with a card Element, done server-side."""
    data = await ls_server.get_post_data(request, remove_auth=False) or {}
    key = data.get("key")
    if not isinstance(key, str) or not key.startswith("pk_"):
        return stripe_error(401, "invalid_request_error", "Invalid publishable key.")
    pi = ls.PaymentIntent._api_retrieve(request.match_info["id"])
    if data.get("client_secret") != pi.client_secret:
        return stripe_error(
            400,
            "invalid_request_error",
            "The client_secret provided does not match the client_secret associated with "
            "the PaymentIntent.",
            code="payment_intent_invalid_parameter",
            param="client_secret",
        )
    if pi.status not in CONFIRMABLE:
        return unexpected_state(pi, "confirm")
    card = data.get("card")
    card = card if isinstance(card, dict) else {}
    problem = card_errors(card)
    if problem:
        code, param, message = problem
        return stripe_error(402, "card_error", message, code=code, param=param)
    billing_details = data.get("billing_details")
    pm = ls.PaymentMethod(
        type="card",
        billing_details=billing_details if isinstance(billing_details, dict) else None,
        card={
            "number": "".join(str(card["number"]).split()),
            "exp_month": str(card["exp_month"]),
            "exp_year": str(card["exp_year"]),
            "cvc": str(card["cvc"]),
        },
    )
    return payment_intent_pay(pi, pm)


async def payment_intent_confirm(request: web.Request) -> web.Response:
    """``POST /v1/payment_intents/<id>/confirm``, also with a ``payment_method``."""
    data = await ls_server.get_post_data(request) or {}
    data.pop("return_url", None)
    data.pop("use_stripe_sdk", None)
    payment_method = data.pop("payment_method", None)
    expand = data.pop("expand", None)
    if data:
        raise UserError(400, "Unexpected " + ", ".join(data))
    pi = ls.PaymentIntent._api_retrieve(request.match_info["id"])
    if pi.status not in CONFIRMABLE:
        return unexpected_state(pi, "confirm")
    payment_method = payment_method or pi.payment_method
    if not isinstance(payment_method, str) or not payment_method:
        return stripe_error(
            400,
            "invalid_request_error",
            "You cannot confirm this PaymentIntent because it's missing a payment method.",
            code="payment_intent_unexpected_state",
        )
    response = payment_intent_pay(pi, ls.PaymentMethod._api_retrieve(payment_method))
    if expand and response.status == 200:
        return ls_server.json_response(pi._export(expand=expand))
    return response


async def payment_intent_create(request: web.Request) -> web.Response:
    """localstripe's create, plus ``description`` (which it refuses)."""
    data = await ls_server.get_post_data(request) or {}
    description = data.pop("description", None)
    expand = data.pop("expand", None)
    pi = ls.PaymentIntent._api_create(**data)
    pi.description = description if isinstance(description, str) and description else None
    return ls_server.json_response(pi._export(expand=expand))


async def payment_intent_cancel(request: web.Request) -> web.Response:
    """Cancel with Stripe's answers: ``payment_intent_unexpected_state`` when it is too
    late (already canceled, succeeded, processing) and a ``payment_intent.canceled`` event."""
    data = await ls_server.get_post_data(request) or {}
    reason = data.pop("cancellation_reason", None)
    data.pop("expand", None)
    if data:
        raise UserError(400, "Unexpected " + ", ".join(data))
    pi = ls.PaymentIntent._api_retrieve(request.match_info["id"])
    if pi.status not in CANCELABLE:
        return unexpected_state(pi, "cancel")
    pi._canceled = True
    pi.next_action = None
    pi.cancellation_reason = reason if isinstance(reason, str) else None
    pi.canceled_at = int(time.time())
    ls.schedule_webhook(ls.Event("payment_intent.canceled", pi))
    return ls_server.json_response(pi._export())


async def refund_create(request: web.Request) -> web.Response:
    """localstripe's refund, but never more than what is left on the charge (Stripe:
    ``charge_already_refunded`` / ``amount_too_large``), with ``reason`` and a
    ``charge.refunded`` event."""
    data = await ls_server.get_post_data(request) or {}
    reason = data.pop("reason", None)
    expand = data.pop("expand", None)
    charge = None
    if isinstance(data.get("payment_intent"), str):
        pi = ls.PaymentIntent._api_retrieve(data["payment_intent"])
        charge = pi.latest_charge
        if charge is None or charge.status != "succeeded":
            return stripe_error(
                400,
                "invalid_request_error",
                f"This PaymentIntent ({pi.id}) does not have a successful charge to refund.",
                code="charge_not_refundable",
            )
    elif isinstance(data.get("charge"), str):
        charge = ls.Charge._api_retrieve(data["charge"])
    if charge is not None:
        left = charge.amount - charge.amount_refunded
        amount = ls.try_convert_to_int(data.get("amount", left))
        if left <= 0:
            return stripe_error(
                400,
                "invalid_request_error",
                f"Charge {charge.id} has already been refunded.",
                code="charge_already_refunded",
            )
        if isinstance(amount, int) and amount > left:
            return stripe_error(
                400,
                "invalid_request_error",
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                code="amount_too_large",
                param="amount",
            )
    refund = ls.Refund._api_create(**data)
    refund.reason = reason if isinstance(reason, str) else None
    refunded_charge = ls.Charge._api_retrieve(refund.charge)
    ls.schedule_webhook(ls.Event("charge.refunded", refunded_charge))
    return ls_server.json_response(refund._export(expand=expand))


@functools.cache
def stripe_js_text() -> str:
    """localstripe's fake Stripe.js with our confirmCardPayment shim appended."""
    return LOCALSTRIPE_JS.read_text() + "\n" + SHIM_JS.read_text()


async def stripe_js(request: web.Request) -> web.Response:
    return web.Response(
        text=stripe_js_text(),
        content_type="application/javascript",
        headers={"Cache-Control": "no-store"},
    )


async def cors_preflight(request: web.Request) -> web.Response:
    return web.Response(status=204)


# --- /_controls -------------------------------------------------------------------------


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except json.JSONDecodeError as exc:
        raise ControlError("send a JSON object") from exc
    if not isinstance(body, dict):
        raise ControlError("send a JSON object")
    return body


async def controls_overview(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE].as_json())


async def controls_reset(request: web.Request) -> web.Response:
    request.app[STATE].reset()
    return web.json_response({"reset": True})


async def controls_faults(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if request.method == "POST":
        state.faults.update(await _json_object(request))
    return web.json_response(asdict(state.faults))


async def controls_requests(request: web.Request) -> web.Response:
    journal = list(request.app[STATE].journal)
    return web.json_response({"count": len(journal), "requests": journal})


async def controls_objects(request: web.Request) -> web.Response:
    prefix = request.match_info["object"] + ":"
    objects = [obj._export() for key, obj in ls.store.items() if key.startswith(prefix)]
    objects.sort(key=lambda obj: obj.get("created", 0))
    return web.json_response({"count": len(objects), "data": objects})


async def controls_webhooks(request: web.Request) -> web.Response:
    if request.method == "POST":
        body = await _json_object(request)
        url, secret, events = body.get("url"), body.get("secret"), body.get("events")
        if not isinstance(url, str) or not url.startswith("http"):
            raise ControlError("url must be an http(s) URL")
        if not isinstance(secret, str) or not secret:
            raise ControlError("secret must be a non-empty string")
        if events is not None and (
            not isinstance(events, list) or not all(isinstance(e, str) for e in events)
        ):
            raise ControlError("events must be a list of event types, or null for all")
        webhook_id = body.get("id")
        request.app[STATE].webhook_register(
            WebhookEndpoint(url, secret, tuple(events) if events is not None else None),
            webhook_id if isinstance(webhook_id, str) and webhook_id else None,
        )
    return web.json_response({"webhooks": webhooks_as_json()})


# --- Middlewares ------------------------------------------------------------------------


def _is_api(request: web.Request) -> bool:
    return request.path.startswith("/v1/")


@web.middleware
async def controls_errors_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except ControlError as exc:
        return web.json_response({"error": "bad_control", "message": str(exc)}, status=400)


@web.middleware
async def faults_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Journal ``/v1/*`` requests and inject the configured faults into them."""
    if not _is_api(request):
        return await handler(request)
    state = request.app[STATE]
    faults = state.faults
    fault = faults.take()
    entry: dict[str, Any] = {
        "method": request.method,
        "path": request.path,
        "idempotency_key": request.headers.get("Idempotency-Key"),
        "fault": fault,
        "status": None,
        "replayed": False,
    }
    state.journal.append(entry)
    state.request_count += 1
    if faults.latency_ms:
        await state.hold(faults.latency_ms / 1000)
    if fault == "timeout":
        await state.hold(faults.timeout_seconds)
        response: web.StreamResponse = stripe_error(
            504, "api_error", "localstripe: injected timeout (request not applied)"
        )
    elif fault == "fail":
        response = stripe_error(
            faults.fail_status,
            "rate_limit_error" if faults.fail_status == 429 else "api_error",
            f"localstripe: injected {faults.fail_status} (request not applied)",
        )
    else:
        try:
            response = await handler(request)
        except UserError as exc:
            response = exc.to_response()
        except web.HTTPException as exc:
            entry["status"] = exc.status
            raise
    entry["status"] = response.status
    entry["replayed"] = response.headers.get("Idempotent-Replayed") == "true"
    if fault == "drop":
        # Applied, but the answer never arrives: the client sees the connection close.
        entry["status"] = None
        request.protocol.force_close()
        if request.transport is not None:
            request.transport.close()
    return response


@web.middleware
async def idempotency_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Stripe's idempotent requests for ``POST /v1/*`` with an ``Idempotency-Key``."""
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not _is_api(request) or not key:
        return await handler(request)
    state = request.app[STATE]
    scope = (ls_server.get_api_key(request) or "", key)
    endpoint = f"{request.method} {request.path}"
    data = await ls_server.get_post_data(request, remove_auth=False)
    params = json.dumps(data or {}, sort_keys=True, default=str)
    stored = state.idempotency.get(scope)
    if stored is not None:
        retry_hint = (
            f"Try using a key other than '{key}' if you meant to execute a different request."
        )
        if stored.endpoint != endpoint:
            return stripe_error(
                400,
                "idempotency_error",
                "Keys for idempotent requests can only be used for the same endpoint they "
                f"were first used for ('{stored.endpoint}'). {retry_hint}",
            )
        if stored.params != params:
            return stripe_error(
                400,
                "idempotency_error",
                "Keys for idempotent requests can only be used with the same parameters "
                f"they were first used with. {retry_hint}",
            )
        if stored.status is None:
            return stripe_error(
                409,
                "invalid_request_error",
                "There is currently another in-progress request using this Idempotent Key "
                f"({key}). Please try again later.",
                code="idempotency_key_in_use",
            )
        return web.Response(
            status=stored.status,
            body=stored.body,
            content_type="application/json",
            headers={"Idempotent-Replayed": "true", "Idempotency-Key": key},
        )
    result = IdempotentResult(endpoint=endpoint, params=params)
    state.remember(scope, result)
    try:
        try:
            response = await handler(request)
        except UserError as exc:
            response = exc.to_response()
    except BaseException:
        state.forget(scope, result)  # never started for Stripe's purposes: not stored
        raise
    body = getattr(response, "body", None)
    if response.status == 401 or not isinstance(body, bytes):
        state.forget(scope, result)
    else:
        result.status, result.body = response.status, body
    response.headers["Idempotency-Key"] = key
    return response


@web.middleware
async def auth_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Our routes authenticate themselves (controls: none; ``_confirm_card``: publishable
    key + client secret; CORS preflights: none); the rest is localstripe's check."""
    if (
        request.method == "OPTIONS"
        or request.path.startswith("/_controls")
        or request.path.endswith("/_confirm_card")
    ):
        return await handler(request)
    return await ls_server.auth_middleware(request, handler)


# --- The app ----------------------------------------------------------------------------

OUR_ROUTES = (
    ("POST", "/v1/payment_intents", payment_intent_create),
    ("POST", "/v1/payment_intents/{id}/confirm", payment_intent_confirm),
    ("POST", "/v1/payment_intents/{id}/cancel", payment_intent_cancel),
    ("POST", "/v1/payment_intents/{id}/_confirm_card", payment_intent_confirm_card),
    ("POST", "/v1/refunds", refund_create),
    ("GET", "/js.stripe.com/v3/", stripe_js),
    ("HEAD", "/js.stripe.com/v3/", stripe_js),
    ("GET", "/_controls", controls_overview),
    ("POST", "/_controls/reset", controls_reset),
    ("GET", "/_controls/faults", controls_faults),
    ("POST", "/_controls/faults", controls_faults),
    ("GET", "/_controls/requests", controls_requests),
    ("GET", "/_controls/objects/{object}", controls_objects),
    ("GET", "/_controls/webhooks", controls_webhooks),
    ("POST", "/_controls/webhooks", controls_webhooks),
)


def _as_coroutine(handler: Any) -> Any:
    """localstripe has plain-function handlers, which aiohttp deprecates."""
    if asyncio.iscoroutinefunction(handler):
        return handler

    async def call(request: web.Request) -> web.StreamResponse:
        return handler(request)

    return call


def create_app(*, webhooks: Sequence[WebhookEndpoint] = ()) -> web.Application:
    """A new aiohttp app serving localstripe's API with our additions (module docstring).
    ``webhooks`` are registered now and again after every reset."""
    app = web.Application(
        middlewares=[
            ls_server.error_middleware,  # localstripe's UserError → its JSON answer
            controls_errors_middleware,
            faults_middleware,
            idempotency_middleware,
            auth_middleware,
        ]
    )
    app[STATE] = StripeLocalState(webhooks)
    app.on_response_prepare.append(ls_server.add_cors_headers)
    ours = {(method, path) for method, path, _handler in OUR_ROUTES}
    for method, path, handler in OUR_ROUTES:
        app.router.add_route(method, path, handler)
    for route in ls_server.app.router.routes():
        path = route.resource.canonical if route.resource is not None else None
        if path is None or (route.method, path) in ours:
            continue
        app.router.add_route(route.method, path, _as_coroutine(route.handler))
    app.router.add_route("OPTIONS", "/{tail:.*}", cors_preflight)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.stripe_local",
        description="localstripe with our additions (card confirm, idempotency, faults).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default 8420)")
    parser.add_argument("--webhook-url", help="post every event here (e.g. the store's)")
    parser.add_argument("--webhook-secret", help="signing secret for --webhook-url")
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    args = parser.parse_args(argv)
    if bool(args.webhook_url) != bool(args.webhook_secret):
        parser.error("--webhook-url and --webhook-secret go together")

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    webhooks = [WebhookEndpoint(args.webhook_url, args.webhook_secret)] if args.webhook_url else []
    app = create_app(webhooks=webhooks)
    logger.info(
        "localstripe serving on http://%s:%s (Stripe.js at /js.stripe.com/v3/, controls at "
        "/_controls)%s",
        args.host,
        args.port,
        f", webhooks to {args.webhook_url}" if args.webhook_url else "",
    )
    # run_app turns SIGINT and SIGTERM (honcho's stop in `make run`) into a clean shutdown.
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=logger)


if __name__ == "__main__":
    main()
