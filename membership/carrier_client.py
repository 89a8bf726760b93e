"""Client for the carrier membership points service (T membership style; the sandbox's
``carrier`` service locally, sandbox/README.md has the HTTP contract).

Real HTTP to ``CARRIER_POINTS_URL`` with ``Authorization: Bearer CARRIER_POINTS_API_KEY``,
a per-attempt timeout (``CARRIER_POINTS_TIMEOUT_SECONDS``) and ``CARRIER_POINTS_RETRIES``
retries, after a short growing pause, of timeouts, connection errors, 5xx (including a
``504 dropped``) and 429 answers and malformed answers. Every POST carries an
``Idempotency-Key`` and every retry sends the SAME key, so the carrier applies a change at
most once and answers a retry with its first answer.

Outcomes:
- a parsed answer (``Member``, ``OtpChallenge``, ``CarrierHold``, ``CarrierRefund``, ...);
- ``CarrierRefused`` for a definite no (4xx other than 429): ``.error`` is the carrier's
  code (``insufficient_points``, ``code_mismatch``, ``hold_not_held``, ...), ``.status``
  the HTTP status, ``.body`` the parsed JSON body, ``.hold`` the hold of a
  ``hold_not_held``. Never retried: the same request would be refused again;
- ``CarrierUnavailable`` when no attempt gave a usable answer: whether a change was applied
  is unknown (repeat it with the same key, or ``hold_void`` a hold by its key).

Phones are never logged whole: ``+8210****5678``.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

import httpx
from django.conf import settings
from django.utils.translation import gettext

from storefront.errors import ApplicationError

logger = logging.getLogger(__name__)

RETRY_BACKOFF_SECONDS = 0.1  # 0.1 s, 0.2 s, ...: a blip, not an outage
T = TypeVar("T")


class CarrierError(ApplicationError):
    """Any failure talking to the carrier's points service."""

    code = "carrier_error"


class CarrierUnavailable(CarrierError):
    """No usable answer after the retries (timeouts, 5xx, 429, malformed, unreachable, and
    504 dropped). Nothing is known about whether a change was applied."""

    code = "carrier_unavailable"


class CarrierRefused(CarrierError):
    """The carrier answered a definite no (4xx). ``.error`` = the carrier's error code
    ("insufficient_points", "code_mismatch", "hold_not_held", ...), ``.status`` = HTTP
    status, ``.body`` = the parsed JSON body (e.g. ``body["attempts_left"]``,
    ``body["hold"]``), ``.hold`` = ``body["hold"]`` parsed (or None)."""

    code = "carrier_refused"

    def __init__(
        self,
        message: str,
        *,
        error: str,
        status: int,
        body: dict[str, Any],
        hold: CarrierHold | None = None,
    ) -> None:
        super().__init__(message)
        self.error = error
        self.status = status
        self.body = body
        self.hold = hold


class _Malformed(Exception):
    """A 2xx answer that is not what the endpoint promises."""


@dataclass(frozen=True)
class Member:
    member_ref: str
    phone: str
    tier: str
    balance: int
    held: int
    available: int


@dataclass(frozen=True)
class OtpChallenge:
    challenge_id: str
    expires_at: datetime
    resend_after_seconds: int


@dataclass(frozen=True)
class CarrierTransaction:
    transaction_id: str
    type: str  # hold | capture | release | refund
    member_ref: str
    hold_id: str
    points: int
    idempotency_key: str | None  # None: the carrier's own expiry release
    reference: str
    created_at: datetime


@dataclass(frozen=True)
class CarrierHold:
    hold_id: str
    member_ref: str
    points: int
    status: str  # held | captured | released | expired
    reference: str
    idempotency_key: str
    created_at: datetime
    expires_at: datetime
    refunded_points: int
    available: int | None
    transactions: tuple[CarrierTransaction, ...]

    def transaction(self, type: str) -> CarrierTransaction | None:
        """The last transaction of that type on this hold, or None."""
        matching = [t for t in self.transactions if t.type == type]
        return matching[-1] if matching else None


@dataclass(frozen=True)
class CarrierRefund:
    refund_id: str
    points: int
    hold: CarrierHold
    transaction: CarrierTransaction


def phone_mask(phone: str) -> str:
    """``+821012345678`` → ``+8210****5678``: how a phone appears in our logs."""
    if len(phone) < 9:
        return "***"
    return f"{phone[:5]}****{phone[-4:]}"


# --- the calls ---------------------------------------------------------------------------


def otp_send(*, phone_e164: str, idempotency_key: str) -> OtpChallenge:
    """Ask the carrier to text a one-time code to ``phone_e164`` (a member's phone)."""
    return _call(
        "POST",
        "/otp/send",
        payload={"phone": phone_e164},
        idempotency_key=idempotency_key,
        what=f"code for {phone_mask(phone_e164)}",
        parse=_otp_challenge,
    )


def otp_verify(*, challenge_id: str, code: str) -> Member:
    """Check ``code`` for ``challenge_id``: the member it proves (the challenge is then
    used up). ``CarrierRefused``: ``code_mismatch`` (``body["attempts_left"]``),
    ``too_many_attempts``, ``code_expired``, ``unknown_challenge``."""
    return _call(
        "POST",
        "/otp/verify",
        payload={"challenge_id": challenge_id, "code": code},
        idempotency_key=f"otp-verify-{uuid.uuid4().hex}",  # one try of a code: a fresh key
        what=f"challenge {challenge_id}",
        parse=_member,
    )


def member_get(*, member_ref: str) -> Member:
    """The member's tier and balance now."""
    return _call("GET", f"/members/{member_ref}", what=f"member {member_ref}", parse=_member)


def hold_create(
    *, member_ref: str, points: int, reference: str, expires_at: datetime, idempotency_key: str
) -> CarrierHold:
    """Hold ``points`` of the member until ``expires_at`` (then the carrier releases them).
    ``CarrierRefused``: ``insufficient_points`` (``body["available"]``), ``key_voided``,
    ``unknown_member``."""
    return _call(
        "POST",
        "/holds",
        payload={
            "member_ref": member_ref,
            "points": points,
            "reference": reference,
            "expires_at": expires_at.isoformat(),
        },
        idempotency_key=idempotency_key,
        what=f"hold {reference}",
        parse=_hold,
    )


def hold_capture(*, hold_id: str, idempotency_key: str) -> CarrierHold:
    """Spend the held points; an already captured hold comes back as it is.
    ``CarrierRefused`` ``hold_not_held`` (``.hold``) when it was released or expired."""
    return _call(
        "POST",
        f"/holds/{hold_id}/capture",
        payload={},
        idempotency_key=idempotency_key,
        what=f"capture {hold_id}",
        parse=_hold,
    )


def hold_release(*, hold_id: str, idempotency_key: str) -> CarrierHold:
    """Give the held points back; a released or expired hold comes back as it is.
    ``CarrierRefused`` ``hold_not_held`` (``.hold``) when it was captured."""
    return _call(
        "POST",
        f"/holds/{hold_id}/release",
        payload={},
        idempotency_key=idempotency_key,
        what=f"release {hold_id}",
        parse=_hold,
    )


def hold_void(*, hold_key: str, idempotency_key: str) -> CarrierHold | None:
    """Undo the hold created (or maybe created) with the key ``hold_key``: it is released
    and returned, or, when the carrier has no such hold, the key is tombstoned (a late
    create with it is refused) and None is returned. ``CarrierRefused`` ``hold_not_held``
    (``.hold``) when it was captured."""
    return _call(
        "POST",
        "/holds/void",
        payload={"hold_key": hold_key},
        idempotency_key=idempotency_key,
        what="void of a hold key",
        parse=_void,
    )


def hold_get(*, hold_id: str) -> CarrierHold:
    """The hold as the carrier has it now (after its lazy expiry)."""
    return _call("GET", f"/holds/{hold_id}", what=f"hold {hold_id}", parse=_hold)


def refund_create(
    *, hold_id: str, points: int, reference: str, idempotency_key: str
) -> CarrierRefund:
    """Give ``points`` of a captured hold back to the member. ``CarrierRefused``:
    ``refund_exceeds_captured`` (``body["refundable"]``), ``hold_not_captured``."""
    return _call(
        "POST",
        "/refunds",
        payload={"hold_id": hold_id, "points": points, "reference": reference},
        idempotency_key=idempotency_key,
        what=f"refund {reference}",
        parse=_refund,
    )


def transactions_list(*, day: date) -> list[CarrierTransaction]:
    """The carrier's ledger for one Asia/Seoul day, oldest first (for reconciliation)."""
    return _call(
        "GET",
        "/transactions",
        params={"date": day.isoformat()},
        what=f"transactions of {day.isoformat()}",
        parse=_transactions,
    )


# --- HTTP --------------------------------------------------------------------------------


def _call(
    method: str,
    path: str,
    *,
    what: str,
    parse: Callable[[Any], T],
    payload: dict[str, Any] | None = None,
    params: dict[str, str] | None = None,
    idempotency_key: str | None = None,
) -> T:
    url = f"{settings.CARRIER_POINTS_URL.rstrip('/')}{path}"
    headers = {
        "Accept": "application/json",
        "Authorization": f"Bearer {settings.CARRIER_POINTS_API_KEY}",
    }
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key  # the same on every retry
    attempts = max(0, settings.CARRIER_POINTS_RETRIES) + 1
    failure = ""
    with httpx.Client(timeout=settings.CARRIER_POINTS_TIMEOUT_SECONDS) as http:
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                time.sleep(RETRY_BACKOFF_SECONDS * 2 ** (attempt - 2))
            try:
                response = http.request(method, url, json=payload, params=params, headers=headers)
            except httpx.TimeoutException:
                failure = "timed out"
            except httpx.TransportError as exc:
                failure = f"unreachable ({type(exc).__name__})"
            else:
                if response.is_success:
                    try:
                        return parse(_json(response.content))
                    except (_Malformed, ValueError, KeyError, TypeError) as exc:
                        failure = f"malformed answer ({type(exc).__name__})"
                elif response.is_server_error or response.status_code == 429:
                    failure = f"answered {response.status_code}"
                else:
                    raise _refused(method, what, response)
            logger.warning(
                "carrier %s %s: attempt %d/%d %s", method, what, attempt, attempts, failure
            )
    logger.error("carrier %s %s unavailable after %d attempts: %s", method, what, attempts, failure)
    raise CarrierUnavailable(
        gettext("The carrier's membership service did not answer. Please try again in a moment.")
    )


def _json(content: bytes) -> Any:
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _Malformed("not JSON") from exc


def _refused(method: str, what: str, response: httpx.Response) -> CarrierRefused:
    try:
        body = _json(response.content)
    except _Malformed:
        body = None
    if not isinstance(body, dict):
        body = {}
    error = body.get("error") if isinstance(body.get("error"), str) else ""
    error = error or f"http_{response.status_code}"
    hold = None
    if isinstance(body.get("hold"), dict):
        try:
            hold = _hold(body["hold"])
        except (_Malformed, ValueError, KeyError, TypeError):
            hold = None
    logger.info("carrier %s %s refused: %s %s", method, what, response.status_code, error)
    return CarrierRefused(
        gettext("The carrier's membership service refused the request."),
        error=error,
        status=response.status_code,
        body=body,
        hold=hold,
    )


# --- parsing (any KeyError / TypeError / ValueError is a malformed answer) --------------


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Malformed("not a whole number")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise _Malformed("not a string")
    return value


def _time(value: Any) -> datetime:
    moment = datetime.fromisoformat(_str(value))
    if moment.tzinfo is None:
        raise _Malformed("a time without offset")
    return moment


def _object(answer: Any) -> dict[str, Any]:
    if not isinstance(answer, dict):
        raise _Malformed("not an object")
    return answer


def _member(answer: Any) -> Member:
    answer = _object(answer)
    return Member(
        member_ref=_str(answer["member_ref"]),
        phone=_str(answer["phone"]),
        tier=_str(answer["tier"]),
        balance=_int(answer["balance"]),
        held=_int(answer["held"]),
        available=_int(answer["available"]),
    )


def _otp_challenge(answer: Any) -> OtpChallenge:
    answer = _object(answer)
    return OtpChallenge(
        challenge_id=_str(answer["challenge_id"]),
        expires_at=_time(answer["expires_at"]),
        resend_after_seconds=_int(answer["resend_after_seconds"]),
    )


def _transaction(answer: Any) -> CarrierTransaction:
    answer = _object(answer)
    key = answer["idempotency_key"]
    return CarrierTransaction(
        transaction_id=_str(answer["transaction_id"]),
        type=_str(answer["type"]),
        member_ref=_str(answer["member_ref"]),
        hold_id=_str(answer["hold_id"]),
        points=_int(answer["points"]),
        idempotency_key=None if key is None else _str(key),
        reference=_str(answer["reference"]),
        created_at=_time(answer["created_at"]),
    )


def _hold(answer: Any) -> CarrierHold:
    answer = _object(answer)
    available = answer.get("available")
    transactions = answer["transactions"]
    if not isinstance(transactions, list):
        raise _Malformed("transactions is not a list")
    return CarrierHold(
        hold_id=_str(answer["hold_id"]),
        member_ref=_str(answer["member_ref"]),
        points=_int(answer["points"]),
        status=_str(answer["status"]),
        reference=_str(answer["reference"]),
        idempotency_key=_str(answer["idempotency_key"]),
        created_at=_time(answer["created_at"]),
        expires_at=_time(answer["expires_at"]),
        refunded_points=_int(answer["refunded_points"]),
        available=None if available is None else _int(available),
        transactions=tuple(_transaction(t) for t in transactions),
    )


def _void(answer: Any) -> CarrierHold | None:
    answer = _object(answer)
    if answer.get("voided") is not True:
        raise _Malformed("not a void")
    return None if answer["hold"] is None else _hold(answer["hold"])


def _refund(answer: Any) -> CarrierRefund:
    answer = _object(answer)
    return CarrierRefund(
        refund_id=_str(answer["refund_id"]),
        points=_int(answer["points"]),
        hold=_hold(answer["hold"]),
        transaction=_transaction(answer["transaction"]),
    )


def _transactions(answer: Any) -> list[CarrierTransaction]:
    transactions = _object(answer)["transactions"]
    if not isinstance(transactions, list):
        raise _Malformed("transactions is not a list")
    return [_transaction(t) for t in transactions]
