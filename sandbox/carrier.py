"""Carrier membership points stand-in (T membership style): one-time codes by "SMS",
members' tiers and balances, two-phase point holds, refunds and the carrier's ledger.

The HTTP contract (what ``membership/carrier_client.py`` speaks) is in sandbox/README.md
("Carrier membership points"). In short, under ``/carrier``:

- every request needs ``Authorization: Bearer <anything>`` (else ``401``);
- every POST needs an ``Idempotency-Key`` (else ``400 idempotency_key_required``): the same
  key on the same path with the same body answers the stored first answer again (header
  ``Idempotent-Replayed: true``) and applies nothing; the same key elsewhere or with
  another body → ``422 idempotency_key_reused``;
- ``POST /otp/send``, ``POST /otp/verify``, ``GET /members/<ref>``, ``POST /holds``,
  ``POST /holds/<id>/capture``, ``POST /holds/<id>/release``, ``POST /holds/void``,
  ``GET /holds/<id>``, ``POST /refunds``, ``GET /transactions?date=YYYY-MM-DD``;
- a held hold whose ``expires_at`` passed is released (status ``expired``, a ``release``
  transaction without idempotency key) lazily, at the start of every request.

The "SMS" with the code goes to ``state["sms"]`` and to the ``sandbox.carrier`` logger
(phone masked, code visible) so a developer running ``make run`` can read it.

State (``/_controls/carrier/state``, all or nothing): ``fixed_code``, ``drop_next`` (the
next N POSTs that change something are applied and stored for replay, but answered only
after ``faults.timeout_seconds`` with ``504 dropped``; a reset wakes them), ``members``,
``transactions_remove`` / ``transactions_add`` (make the carrier's ledger differ from
ours) and ``now`` (pretend time).

Thread safety: endpoints read and change the state under its own ``lock`` (the controls
change it under the runtime's lock and then take this one too; an endpoint never takes the
runtime's lock while holding this one).
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, jsonify, request

from .state import ControlError, SandboxService, ServiceRuntime, runtime_for

logger = logging.getLogger("sandbox.carrier")

SEOUL = ZoneInfo("Asia/Seoul")
PHONE_RE = re.compile(r"^\+821[0-9][0-9]{7,8}$", re.ASCII)
CODE_RE = re.compile(r"^[0-9]{6}$", re.ASCII)
TIERS = ("VIP", "GOLD", "SILVER")
TRANSACTION_TYPES = ("hold", "capture", "release", "refund")
CODE_VALID = timedelta(minutes=5)
CODE_WINDOW = timedelta(minutes=10)
CODES_PER_WINDOW = 5
MAX_WRONG_CODES = 5
RESEND_AFTER_SECONDS = 30
HOLD_DEFAULT_TTL = timedelta(hours=24)
SMS_KEPT = 50
DROP_POLL_SECONDS = 0.05

DEMO_MEMBERS: dict[str, dict[str, Any]] = {
    "TM1000000001": {"phone": "+821012345678", "name": "홍길동", "tier": "VIP", "balance": 80000},
    "TM1000000002": {"phone": "+821098765432", "name": "김민지", "tier": "GOLD", "balance": 25000},
    "TM1000000003": {
        "phone": "+821055550123",
        "name": "Jane Doe",
        "tier": "SILVER",
        "balance": 3000,
    },
}
MEMBER_FIELDS = {"phone", "tier", "balance", "name"}
TRANSACTION_FIELDS = {
    "transaction_id",
    "type",
    "member_ref",
    "hold_id",
    "points",
    "idempotency_key",
    "reference",
    "created_at",
}

blueprint = Blueprint("carrier", __name__, url_prefix="/carrier")

# (status, body, changed): what a handler answers and whether it changed the state.
Answer = tuple[int, dict[str, Any], bool]


def phone_mask(phone: str) -> str:
    """``+821012345678`` → ``+8210****5678``: never the whole number in a log line."""
    if len(phone) < 9:
        return "***"
    return f"{phone[:5]}****{phone[-4:]}"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _parse_aware(value: Any) -> datetime | None:
    """An ISO 8601 timestamp with an offset, or None."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _error(status: int, code: str, message: str, **extra: Any) -> Answer:
    return status, {"error": code, "message": message, **extra}, False


class CarrierState:
    """Members, OTP challenges, holds, the ledger, stored answers by idempotency key,
    voided keys and the controls' settings. Change it only under ``lock``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.members: dict[str, dict[str, Any]] = {
            ref: {
                "phone": fields["phone"],
                "name": fields["name"],
                "tier": fields["tier"],
                "balance": fields["balance"],
                "held": 0,
            }
            for ref, fields in DEMO_MEMBERS.items()
        }
        self.challenges: dict[str, dict[str, Any]] = {}
        self.codes_sent: dict[str, list[datetime]] = {}
        self.sms: deque[dict[str, Any]] = deque(maxlen=SMS_KEPT)
        self.holds: dict[str, dict[str, Any]] = {}
        self.transactions: list[dict[str, Any]] = []
        self.answers: dict[str, dict[str, Any]] = {}
        self.voided_keys: set[str] = set()
        self.fixed_code: str | None = None
        self.drop_next = 0
        self.now_override: datetime | None = None

    # --- time, members, holds ------------------------------------------------------------

    def now(self) -> datetime:
        return self.now_override or datetime.now(UTC)

    def member_json(self, member_ref: str) -> dict[str, Any]:
        member = self.members[member_ref]
        return {
            "member_ref": member_ref,
            "phone": member["phone"],
            "tier": member["tier"],
            "balance": member["balance"],
            "held": member["held"],
            "available": member["balance"] - member["held"],
        }

    def hold_json(self, hold_id: str) -> dict[str, Any]:
        hold = self.holds[hold_id]
        member = self.members.get(hold["member_ref"])
        transactions = [t for t in self.transactions if t["hold_id"] == hold_id]
        return {
            **copy.deepcopy(hold),
            "available": None if member is None else member["balance"] - member["held"],
            "transactions": copy.deepcopy(_oldest_first(transactions)),
        }

    def record(
        self,
        hold: dict[str, Any],
        kind: str,
        *,
        points: int,
        key: str | None,
        reference: str,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        transaction = {
            "transaction_id": f"txn_{secrets.token_hex(8)}",
            "type": kind,
            "member_ref": hold["member_ref"],
            "hold_id": hold["hold_id"],
            "points": points,
            "idempotency_key": key,
            "reference": reference,
            "created_at": iso(at or self.now()),
        }
        self.transactions.append(transaction)
        return transaction

    def unhold(
        self, hold: dict[str, Any], *, status: str, key: str | None, at: datetime | None = None
    ) -> None:
        """Give a held hold's points back to the member (released or expired)."""
        member = self.members.get(hold["member_ref"])
        if member is not None:
            member["held"] -= hold["points"]
        hold["status"] = status
        self.record(
            hold, "release", points=hold["points"], key=key, reference=hold["reference"], at=at
        )

    def expire_due(self) -> None:
        """Release every held hold whose expiry passed (the carrier's own doing)."""
        now = self.now()
        for hold in self.holds.values():
            expires_at = datetime.fromisoformat(hold["expires_at"])
            if hold["status"] == "held" and expires_at <= now:
                self.unhold(hold, status="expired", key=None, at=expires_at)

    def hold_by_key(self, key: str) -> dict[str, Any] | None:
        for hold in self.holds.values():
            if hold["idempotency_key"] == key:
                return hold
        return None

    # --- controls ------------------------------------------------------------------------

    def as_json(self) -> dict[str, Any]:
        with self.lock:
            return {
                "members": {ref: self.member_json(ref) for ref in self.members},
                "holds": {hold_id: self.hold_json(hold_id) for hold_id in self.holds},
                "transactions": copy.deepcopy(self.transactions),
                "sms": copy.deepcopy(list(self.sms)),
                "fixed_code": self.fixed_code,
                "drop_next": self.drop_next,
                "voided_keys": sorted(self.voided_keys),
                "idempotency_keys": sorted(self.answers),
                "now": None if self.now_override is None else iso(self.now_override),
            }

    def update(self, changes: Mapping[str, Any]) -> None:
        """All or nothing: ``{"fixed_code": "123456" | null, "drop_next": n, "members":
        {"TM...": {"phone", "tier", "balance"} | partial | null}, "transactions_remove":
        ["txn_..."], "transactions_add": [transaction JSON], "now": iso | null}``."""
        known = {
            "fixed_code",
            "drop_next",
            "members",
            "transactions_remove",
            "transactions_add",
            "now",
        }
        unknown = set(changes) - known
        if unknown:
            raise ControlError(f"unknown carrier setting(s): {', '.join(sorted(unknown))}")
        with self.lock:
            fixed_code = changes.get("fixed_code", self.fixed_code)
            if fixed_code is not None and not (
                isinstance(fixed_code, str) and CODE_RE.fullmatch(fixed_code)
            ):
                raise ControlError("fixed_code is 6 digits (a string) or null")
            drop_next = changes.get("drop_next", self.drop_next)
            if not _is_count(drop_next) or drop_next < 0:
                raise ControlError("drop_next is a whole number ≥ 0")
            now_override = self.now_override
            if "now" in changes:
                now_override = None
                if changes["now"] is not None:
                    now_override = _parse_aware(changes["now"])
                    if now_override is None:
                        raise ControlError("now is an ISO 8601 time with an offset, or null")
            members = _members_changed(self.members, changes.get("members"))
            transactions = _transactions_changed(
                self.transactions,
                remove=changes.get("transactions_remove"),
                add=changes.get("transactions_add"),
            )
            self.fixed_code, self.drop_next, self.now_override = fixed_code, drop_next, now_override
            self.members, self.transactions = members, transactions


def _members_changed(current: dict[str, dict[str, Any]], entries: Any) -> dict[str, Any]:
    members = copy.deepcopy(current)
    if entries is None:
        return members
    if not isinstance(entries, Mapping):
        raise ControlError("members takes an object keyed by member_ref")
    for ref, fields in entries.items():
        if not isinstance(ref, str) or not ref:
            raise ControlError("a member_ref is a non-empty string")
        if fields is None:
            members.pop(ref, None)
            continue
        if not isinstance(fields, Mapping):
            raise ControlError(f"member {ref} takes an object or null")
        unknown = set(fields) - MEMBER_FIELDS
        if unknown:
            raise ControlError(f"member {ref}: unknown field(s) {', '.join(sorted(unknown))}")
        member = members.get(ref)
        if member is None:
            missing = {"phone", "tier", "balance"} - set(fields)
            if missing:
                raise ControlError(f"new member {ref} needs phone, tier and balance")
            member = {"name": "", "held": 0}
        merged = {**member, **fields}
        if not isinstance(merged["phone"], str) or not PHONE_RE.fullmatch(merged["phone"]):
            raise ControlError(f"member {ref}: phone is a Korean mobile in E.164 (+8210...)")
        if merged["tier"] not in TIERS:
            raise ControlError(f"member {ref}: tier is one of {', '.join(TIERS)}")
        if not _is_count(merged["balance"]) or merged["balance"] < merged["held"]:
            raise ControlError(f"member {ref}: balance is a whole number ≥ its held points")
        if not isinstance(merged["name"], str):
            raise ControlError(f"member {ref}: name is a string")
        members[ref] = merged
    phones = [member["phone"] for member in members.values()]
    if len(phones) != len(set(phones)):
        raise ControlError("two members cannot share a phone number")
    return members


def _transactions_changed(current: list[dict[str, Any]], *, remove: Any, add: Any) -> list:
    transactions = copy.deepcopy(current)
    if remove is not None:
        if not isinstance(remove, list) or not all(isinstance(t, str) for t in remove):
            raise ControlError("transactions_remove takes a list of transaction ids")
        known = {t["transaction_id"] for t in transactions}
        missing = [t for t in remove if t not in known]
        if missing:
            raise ControlError(f"no transaction(s) {', '.join(missing)}")
        transactions = [t for t in transactions if t["transaction_id"] not in set(remove)]
    if add is not None:
        if not isinstance(add, list):
            raise ControlError("transactions_add takes a list of transactions")
        for entry in add:
            transaction = _transaction(entry)
            if any(t["transaction_id"] == transaction["transaction_id"] for t in transactions):
                raise ControlError(f"transaction {transaction['transaction_id']} exists")
            transactions.append(transaction)
    return transactions


def _transaction(entry: Any) -> dict[str, Any]:
    if not isinstance(entry, Mapping) or set(entry) != TRANSACTION_FIELDS:
        raise ControlError(f"a transaction has exactly {', '.join(sorted(TRANSACTION_FIELDS))}")
    strings = ("transaction_id", "member_ref", "hold_id", "reference")
    if not all(isinstance(entry[name], str) and entry[name] for name in strings[:3]):
        raise ControlError("transaction_id, member_ref and hold_id are non-empty strings")
    if not isinstance(entry["reference"], str):
        raise ControlError("reference is a string")
    if entry["type"] not in TRANSACTION_TYPES:
        raise ControlError(f"type is one of {', '.join(TRANSACTION_TYPES)}")
    if not _is_count(entry["points"]) or entry["points"] <= 0:
        raise ControlError("points is a whole number > 0")
    if entry["idempotency_key"] is not None and not isinstance(entry["idempotency_key"], str):
        raise ControlError("idempotency_key is a string or null")
    created_at = _parse_aware(entry["created_at"])
    if created_at is None:
        raise ControlError("created_at is an ISO 8601 time with an offset")
    return {**dict(entry), "created_at": iso(created_at)}


def _oldest_first(transactions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(transactions, key=lambda t: datetime.fromisoformat(t["created_at"]))


# --- request plumbing --------------------------------------------------------------------


def _state() -> tuple[ServiceRuntime, CarrierState]:
    runtime = runtime_for("carrier")
    return runtime, runtime.state  # type: ignore[return-value]


def _unauthorized() -> tuple[Response, int] | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return jsonify(error="unauthorized", message="send Authorization: Bearer <key>"), 401
    return None


def _canonical(body: Any) -> str:
    return json.dumps(body, sort_keys=True, ensure_ascii=False)


def _read(handler: Callable[..., Answer]):
    """A GET: authorised, under the lock, after lazy expiry."""

    @functools.wraps(handler)
    def view(**kwargs: Any):
        if denied := _unauthorized():
            return denied
        _, state = _state()
        with state.lock:
            state.expire_due()
            status, body, _ = handler(state, **kwargs)
        return jsonify(body), status

    return view


def _write(handler: Callable[..., Answer]):
    """A POST: authorised, keyed, replayed or applied under the lock (after lazy expiry),
    stored for replay, and dropped (applied, answer lost) when ``drop_next`` says so."""

    @functools.wraps(handler)
    def view(**kwargs: Any):
        if denied := _unauthorized():
            return denied
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key:
            message = "send an Idempotency-Key header with every POST"
            return jsonify(error="idempotency_key_required", message=message), 400
        raw = request.get_data()
        body = request.get_json(silent=True) if raw.strip() else {}
        fingerprint = [request.path, _canonical(body) if body is not None else raw.hex()]
        runtime, state = _state()
        timeout_seconds = runtime.faults.timeout_seconds  # read before our lock, never inside
        with state.lock:
            state.expire_due()
            stored = state.answers.get(key)
            if stored is not None:
                if stored["fingerprint"] != fingerprint:
                    status, answer, _ = _error(
                        422,
                        "idempotency_key_reused",
                        "this Idempotency-Key was used with another request",
                    )
                    return jsonify(answer), status
                response = jsonify(copy.deepcopy(stored["body"]))
                response.headers["Idempotent-Replayed"] = "true"
                return response, stored["status"]
            if not isinstance(body, dict):
                status, answer, changed = _error(422, "invalid_request", "send a JSON object")
            else:
                status, answer, changed = handler(state, body, key=key, **kwargs)
            if status != 429:  # a rate limit is not an answer to keep: try again later
                state.answers[key] = {
                    "fingerprint": fingerprint,
                    "status": status,
                    "body": copy.deepcopy(answer),
                }
            dropped = changed and state.drop_next > 0
            if dropped:
                state.drop_next -= 1
        if dropped:
            _sleep_until_reset(runtime, state, timeout_seconds)
            return jsonify(error="dropped", message="the answer was lost"), 504
        return jsonify(answer), status

    return view


def _sleep_until_reset(runtime: ServiceRuntime, state: CarrierState, seconds: float) -> None:
    """Sleep ``seconds``, or until the service is reset (a reset replaces the state)."""
    deadline = time.monotonic() + seconds
    while runtime.state is state and (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, DROP_POLL_SECONDS))


# --- endpoints ---------------------------------------------------------------------------


@blueprint.post("/otp/send")
@_write
def otp_send(state: CarrierState, body: dict[str, Any], *, key: str) -> Answer:
    """Send a 6-digit code to a member's phone ("SMS": state and the log)."""
    phone = body.get("phone")
    if not isinstance(phone, str) or not PHONE_RE.fullmatch(phone):
        return _error(422, "invalid_phone", "phone must be a Korean mobile in E.164")
    member_ref = next((ref for ref, m in state.members.items() if m["phone"] == phone), None)
    if member_ref is None:
        return _error(404, "not_a_member", "no member with this phone number")
    now = state.now()
    recent = [t for t in state.codes_sent.get(phone, []) if now - t < CODE_WINDOW]
    if len(recent) >= CODES_PER_WINDOW:
        return _error(429, "too_many_codes", "too many codes for this phone; try later")
    state.codes_sent[phone] = [*recent, now]
    code = state.fixed_code or f"{secrets.randbelow(10**6):06d}"
    challenge_id = f"otp_{secrets.token_hex(8)}"
    expires_at = now + CODE_VALID
    state.challenges[challenge_id] = {
        "member_ref": member_ref,
        "phone": phone,
        "code": code,
        "expires_at": expires_at,
        "wrong": 0,
        "consumed": False,
    }
    state.sms.append(
        {"phone": phone, "code": code, "challenge_id": challenge_id, "sent_at": iso(now)}
    )
    logger.info("[carrier sms] %s: 인증번호 %s", phone_mask(phone), code)
    answer = {
        "challenge_id": challenge_id,
        "expires_at": iso(expires_at),
        "resend_after_seconds": RESEND_AFTER_SECONDS,
    }
    return 201, answer, True


@blueprint.post("/otp/verify")
@_write
def otp_verify(state: CarrierState, body: dict[str, Any], *, key: str) -> Answer:
    """Check a code: the member on a match (challenge consumed), else how many tries left."""
    challenge_id, code = body.get("challenge_id"), body.get("code")
    if not isinstance(challenge_id, str) or not isinstance(code, str):
        return _error(422, "invalid_request", "send challenge_id and code (strings)")
    challenge = state.challenges.get(challenge_id)
    if challenge is None or challenge["consumed"]:
        return _error(404, "unknown_challenge", "no such challenge (or already used)")
    if challenge["wrong"] >= MAX_WRONG_CODES:
        return _error(429, "too_many_attempts", "too many wrong codes; ask for a new one")
    if state.now() >= challenge["expires_at"]:
        return _error(410, "code_expired", "the code expired; ask for a new one")
    if not secrets.compare_digest(code, challenge["code"]):
        challenge["wrong"] += 1
        left = MAX_WRONG_CODES - challenge["wrong"]
        return _error(400, "code_mismatch", "wrong code", attempts_left=left)
    if challenge["member_ref"] not in state.members:
        return _error(404, "unknown_member", "the member is gone")
    challenge["consumed"] = True
    return 200, {**state.member_json(challenge["member_ref"]), "challenge_id": challenge_id}, True


@blueprint.get("/members/<member_ref>")
@_read
def member_get(state: CarrierState, *, member_ref: str) -> Answer:
    if member_ref not in state.members:
        return _error(404, "unknown_member", f"no member {member_ref}")
    return 200, state.member_json(member_ref), False


@blueprint.post("/holds")
@_write
def hold_create(state: CarrierState, body: dict[str, Any], *, key: str) -> Answer:
    """Hold points of a member for an order (refused when fewer are available)."""
    if key in state.voided_keys:
        return _error(409, "key_voided", "this Idempotency-Key was voided")
    member_ref, points, reference = (
        body.get("member_ref"),
        body.get("points"),
        body.get("reference"),
    )
    if not isinstance(member_ref, str) or not isinstance(reference, str):
        return _error(422, "invalid_request", "member_ref and reference are strings")
    if not _is_count(points) or points <= 0:
        return _error(422, "invalid_request", "points is a whole number > 0")
    now = state.now()
    expires_at = now + HOLD_DEFAULT_TTL
    if body.get("expires_at") is not None:
        expires_at = _parse_aware(body["expires_at"])
        if expires_at is None or expires_at <= now:
            return _error(422, "invalid_request", "expires_at is a future ISO time with offset")
    member = state.members.get(member_ref)
    if member is None:
        return _error(404, "unknown_member", f"no member {member_ref}")
    available = member["balance"] - member["held"]
    if points > available:
        return _error(409, "insufficient_points", "not enough points", available=available)
    hold_id = f"hld_{secrets.token_hex(8)}"
    hold = {
        "hold_id": hold_id,
        "member_ref": member_ref,
        "points": points,
        "status": "held",
        "reference": reference,
        "idempotency_key": key,
        "created_at": iso(now),
        "expires_at": iso(expires_at),
        "refunded_points": 0,
    }
    state.holds[hold_id] = hold
    member["held"] += points
    state.record(hold, "hold", points=points, key=key, reference=reference)
    return 201, state.hold_json(hold_id), True


def _not_held(state: CarrierState, hold_id: str) -> Answer:
    status = state.holds[hold_id]["status"]
    return _error(409, "hold_not_held", f"the hold is {status}", hold=state.hold_json(hold_id))


@blueprint.post("/holds/<hold_id>/capture")
@_write
def hold_capture(state: CarrierState, body: dict[str, Any], *, key: str, hold_id: str) -> Answer:
    """Spend a held hold's points; a captured one is answered as it is."""
    hold = state.holds.get(hold_id)
    if hold is None:
        return _error(404, "unknown_hold", f"no hold {hold_id}")
    if hold["status"] == "captured":
        return 200, state.hold_json(hold_id), False
    if hold["status"] != "held":
        return _not_held(state, hold_id)
    member = state.members.get(hold["member_ref"])
    if member is not None:
        member["held"] -= hold["points"]
        member["balance"] -= hold["points"]
    hold["status"] = "captured"
    state.record(hold, "capture", points=hold["points"], key=key, reference=hold["reference"])
    return 200, state.hold_json(hold_id), True


@blueprint.post("/holds/<hold_id>/release")
@_write
def hold_release(state: CarrierState, body: dict[str, Any], *, key: str, hold_id: str) -> Answer:
    """Give a held hold's points back; a released or expired one is answered as it is."""
    hold = state.holds.get(hold_id)
    if hold is None:
        return _error(404, "unknown_hold", f"no hold {hold_id}")
    if hold["status"] in ("released", "expired"):
        return 200, state.hold_json(hold_id), False
    if hold["status"] != "held":
        return _not_held(state, hold_id)
    state.unhold(hold, status="released", key=key)
    return 200, state.hold_json(hold_id), True


@blueprint.post("/holds/void")
@_write
def hold_void(state: CarrierState, body: dict[str, Any], *, key: str) -> Answer:
    """Undo a hold known only by the key it was (maybe) created with: release it, or
    tombstone the key so the hold can never be created later."""
    hold_key = body.get("hold_key")
    if not isinstance(hold_key, str) or not hold_key:
        return _error(422, "invalid_request", "hold_key is a non-empty string")
    hold = state.hold_by_key(hold_key)
    if hold is None:
        changed = hold_key not in state.voided_keys
        state.voided_keys.add(hold_key)
        return 200, {"hold": None, "voided": True}, changed
    if hold["status"] == "captured":
        return _not_held(state, hold["hold_id"])
    changed = hold["status"] == "held"
    if changed:
        state.unhold(hold, status="released", key=key)
    return 200, {"hold": state.hold_json(hold["hold_id"]), "voided": True}, changed


@blueprint.get("/holds/<hold_id>")
@_read
def hold_get(state: CarrierState, *, hold_id: str) -> Answer:
    if hold_id not in state.holds:
        return _error(404, "unknown_hold", f"no hold {hold_id}")
    return 200, state.hold_json(hold_id), False


@blueprint.post("/refunds")
@_write
def refund_create(state: CarrierState, body: dict[str, Any], *, key: str) -> Answer:
    """Give back (part of) a captured hold's points."""
    hold_id, points, reference = body.get("hold_id"), body.get("points"), body.get("reference")
    if not isinstance(hold_id, str) or not isinstance(reference, str):
        return _error(422, "invalid_request", "hold_id and reference are strings")
    if not _is_count(points) or points <= 0:
        return _error(422, "invalid_request", "points is a whole number > 0")
    hold = state.holds.get(hold_id)
    if hold is None:
        return _error(404, "unknown_hold", f"no hold {hold_id}")
    if hold["status"] != "captured":
        return _error(409, "hold_not_captured", f"the hold is {hold['status']}")
    refundable = hold["points"] - hold["refunded_points"]
    if points > refundable:
        return _error(409, "refund_exceeds_captured", "more than is left", refundable=refundable)
    member = state.members.get(hold["member_ref"])
    if member is not None:
        member["balance"] += points
    hold["refunded_points"] += points
    transaction = state.record(hold, "refund", points=points, key=key, reference=reference)
    answer = {
        "refund_id": f"rfd_{secrets.token_hex(8)}",
        "points": points,
        "hold": state.hold_json(hold_id),
        "transaction": copy.deepcopy(transaction),
    }
    return 201, answer, True


@blueprint.get("/transactions")
@_read
def transactions_list(state: CarrierState) -> Answer:
    """The ledger of one Asia/Seoul day, oldest first."""
    try:
        day = date.fromisoformat(request.args.get("date", ""))
    except ValueError:
        return _error(422, "invalid_date", "date must be like 2026-01-05")
    transactions = [
        copy.deepcopy(t)
        for t in _oldest_first(state.transactions)
        if datetime.fromisoformat(t["created_at"]).astimezone(SEOUL).date() == day
    ]
    return 200, {"date": day.isoformat(), "transactions": transactions}, False


SERVICE = SandboxService(name="carrier", blueprint=blueprint, initial_state=CarrierState)
