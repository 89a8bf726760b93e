"""Customs PCCC check stand-in (UNI-PASS style): is this PCCC registered to this person?

``POST /customs/pccc/verify`` with ``{"pccc", "name", "phone", "postal_code", "address"}``
answers ``200 {"valid": true}`` or ``200 {"valid": false, "reasons": {<field>: <text>}}``
naming only the fields that failed. An unknown, malformed or withdrawn PCCC fails on
``pccc`` alone; a masked ``050`` number always fails on ``phone``. Before
``full_match_from`` (2026-01-05, DOMAIN.md) name and phone must match the registration;
from that day postal code and address must match too. Comparisons are normalised:
whitespace collapsed, case-insensitive, phones in E.164.

State: registrations keyed by PCCC, seeded with the demo registrations in
sandbox/README.md; tests add (``{"registrations": {"P...": {...}}}``) or remove
(``{"registrations": {"P...": null}}``) them, and move the clock (``{"today":
"2026-01-04"}``) through ``/_controls/customs/state``. Reason texts are Korean, like the
real service's.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, jsonify, request

from .state import ControlError, SandboxService, runtime_for

SEOUL = ZoneInfo("Asia/Seoul")
FULL_MATCH_FROM = "2026-01-05"  # address and postal code must match from this day on
PCCC_RE = re.compile(r"^P\d{12}$", re.ASCII)
MOBILE_NATIONAL_RE = re.compile(r"^01\d{8,9}$", re.ASCII)  # 01[0-9] + 7–8 digits
MASKED_NATIONAL_RE = re.compile(r"^050\d{8,9}$", re.ASCII)  # 안심번호 (virtual numbers)
REQUEST_FIELDS = ("pccc", "name", "phone", "postal_code", "address")
REGISTRATION_FIELDS = {"name", "phone", "postal_code", "address", "active"}

DEMO_REGISTRATIONS: dict[str, dict[str, Any]] = {
    "P100000000001": {
        "name": "홍길동",
        "phone": "+821012345678",
        "postal_code": "06236",
        "address": "서울특별시 강남구 테헤란로 152",
    },
    "P100000000002": {
        "name": "김민지",
        "phone": "+821098765432",
        "postal_code": "04524",
        "address": "서울특별시 중구 세종대로 110",
    },
    "P100000000003": {
        "name": "Jane Doe",
        "phone": "+821055550123",
        "postal_code": "48099",
        "address": "부산광역시 해운대구 해운대해변로 264",
    },
    # Withdrawn: the holder had a new code issued, so this one is refused.
    "P100000000009": {
        "name": "이서준",
        "phone": "+821011112222",
        "postal_code": "34126",
        "address": "대전광역시 유성구 대학로 99",
        "active": False,
    },
}

REASONS = {
    "pccc_shape": "개인통관고유부호 형식이 올바르지 않습니다 (P로 시작하는 13자리).",
    "pccc_unknown": "등록되지 않은 개인통관고유부호입니다.",
    "pccc_withdrawn": "사용이 중지된 개인통관고유부호입니다. 재발급받은 부호를 입력해 주세요.",
    "name": "개인통관고유부호에 등록된 성명과 일치하지 않습니다.",
    "phone_masked": "안심번호(050)는 사용할 수 없습니다. 실제 휴대전화 번호를 입력해 주세요.",
    "phone_invalid": "휴대전화 번호 형식이 올바르지 않습니다.",
    "phone": "개인통관고유부호에 등록된 휴대전화 번호와 일치하지 않습니다.",
    "postal_code": "개인통관고유부호에 등록된 우편번호와 일치하지 않습니다.",
    "address": "개인통관고유부호에 등록된 주소와 일치하지 않습니다.",
}

blueprint = Blueprint("customs", __name__, url_prefix="/customs")


def normalize_text(value: str) -> str:
    """Whitespace collapsed, case folded: how names and addresses are compared."""
    return " ".join(value.split()).casefold()


def normalize_phone(value: str) -> str | None:
    """E.164 (``+8210...``) for a Korean number typed as ``010-1234-5678``,
    ``01012345678``, ``+82 10-1234-5678`` or ``0504-1234-5678``; None when not a number."""
    digits = re.sub(r"[\s\-().]", "", value)
    if digits.startswith("+82"):
        digits = "0" + digits[3:].removeprefix("0")
    elif digits.startswith("82") and len(digits) >= 11:
        digits = "0" + digits[2:]
    if not (MOBILE_NATIONAL_RE.fullmatch(digits) or MASKED_NATIONAL_RE.fullmatch(digits)):
        return None
    return "+82" + digits[1:]


def is_masked_phone(e164: str) -> bool:
    return e164.startswith("+8250")


class CustomsState:
    """Registrations by PCCC, the day the sandbox thinks it is (None: today in Seoul) and
    the day full matching starts."""

    def __init__(self) -> None:
        self.registrations: dict[str, dict[str, Any]] = {
            pccc: _registration(pccc, fields) for pccc, fields in DEMO_REGISTRATIONS.items()
        }
        self.today: str | None = None
        self.full_match_from = FULL_MATCH_FROM

    def as_json(self) -> dict[str, Any]:
        return {
            "registrations": copy.deepcopy(self.registrations),
            "today": self.today,
            "full_match_from": self.full_match_from,
        }

    def update(self, changes: Mapping[str, Any]) -> None:
        """All or nothing: ``{"registrations": {"P100000000005": {"name", "phone",
        "postal_code", "address"[, "active"]}, "P100000000001": null}}`` adds, replaces or
        removes registrations; ``{"today": "2026-01-04"}`` (or null) and
        ``{"full_match_from": "2026-01-05"}`` move the rule's dates."""
        unknown = set(changes) - {"registrations", "today", "full_match_from"}
        if unknown:
            raise ControlError(f"unknown customs setting(s): {', '.join(sorted(unknown))}")
        registrations = copy.deepcopy(self.registrations)
        if "registrations" in changes:
            entries = changes["registrations"]
            if not isinstance(entries, Mapping):
                raise ControlError("registrations takes an object keyed by PCCC")
            for key, fields in entries.items():
                pccc = re.sub(r"[\s\-]", "", str(key)).upper()
                if not PCCC_RE.fullmatch(pccc):
                    raise ControlError(f"{key!r} is not a PCCC (P and 12 digits)")
                if fields is None:
                    registrations.pop(pccc, None)
                else:
                    registrations[pccc] = _registration(pccc, fields)
        today = _date_setting(changes, "today", self.today, nullable=True)
        full_match_from = _date_setting(
            changes, "full_match_from", self.full_match_from, nullable=False
        )
        self.registrations, self.today, self.full_match_from = (
            registrations,
            today,
            full_match_from,
        )


def _registration(pccc: str, fields: Any) -> dict[str, Any]:
    if not isinstance(fields, Mapping):
        raise ControlError(f"registration {pccc} takes an object or null")
    unknown = set(fields) - REGISTRATION_FIELDS
    missing = {"name", "phone", "postal_code", "address"} - set(fields)
    if unknown or missing:
        raise ControlError(
            f"registration {pccc} takes name, phone, postal_code, address (and active)"
        )
    if not all(isinstance(fields[key], str) for key in ("name", "phone", "postal_code")):
        raise ControlError(f"registration {pccc}: name, phone and postal_code are strings")
    if not isinstance(fields["address"], str):
        raise ControlError(f"registration {pccc}: address is a string")
    phone = normalize_phone(fields["phone"])
    if phone is None:
        raise ControlError(f"registration {pccc}: {fields['phone']!r} is not a Korean mobile")
    active = fields.get("active", True)
    if not isinstance(active, bool):
        raise ControlError(f"registration {pccc}: active is true or false")
    return {
        "name": fields["name"],
        "phone": phone,
        "postal_code": fields["postal_code"].strip(),
        "address": fields["address"],
        "active": active,
    }


def _date_setting(changes: Mapping[str, Any], key: str, current: Any, *, nullable: bool):
    if key not in changes:
        return current
    value = changes[key]
    if value is None and nullable:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except (TypeError, ValueError) as exc:
        raise ControlError(f"{key} must be a date like 2026-01-05") from exc


@blueprint.post("/pccc/verify")
def verify():
    """Check a PCCC against its registration; 400 when the request itself is malformed."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify(error="bad_request", message="send a JSON object"), 400
    bad = [key for key in REQUEST_FIELDS if not isinstance(body.get(key), str)]
    if bad:
        message = f"missing or non-string field(s): {', '.join(bad)}"
        return jsonify(error="bad_request", message=message), 400

    state = runtime_for("customs").state_json()  # a consistent snapshot
    pccc = re.sub(r"[\s\-]", "", body["pccc"]).upper()
    registration = state["registrations"].get(pccc)
    today = date.fromisoformat(state["today"]) if state["today"] else datetime.now(SEOUL).date()
    full_match = today >= date.fromisoformat(state["full_match_from"])

    reasons = _reasons(body, pccc=pccc, registration=registration, full_match=full_match)
    if reasons:
        return jsonify(valid=False, reasons=reasons)
    return jsonify(valid=True)


def _reasons(
    body: Mapping[str, str], *, pccc: str, registration: dict[str, Any] | None, full_match: bool
) -> dict[str, str]:
    if not PCCC_RE.fullmatch(pccc):
        return {"pccc": REASONS["pccc_shape"]}
    if registration is None:
        return {"pccc": REASONS["pccc_unknown"]}
    if not registration["active"]:
        return {"pccc": REASONS["pccc_withdrawn"]}
    reasons: dict[str, str] = {}
    if normalize_text(body["name"]) != normalize_text(registration["name"]):
        reasons["name"] = REASONS["name"]
    phone = normalize_phone(body["phone"])
    if phone is None:
        reasons["phone"] = REASONS["phone_invalid"]
    elif is_masked_phone(phone):
        reasons["phone"] = REASONS["phone_masked"]
    elif phone != registration["phone"]:
        reasons["phone"] = REASONS["phone"]
    if full_match:
        if body["postal_code"].strip() != registration["postal_code"]:
            reasons["postal_code"] = REASONS["postal_code"]
        if normalize_text(body["address"]) != normalize_text(registration["address"]):
            reasons["address"] = REASONS["address"]
    return reasons


SERVICE = SandboxService(name="customs", blueprint=blueprint, initial_state=CustomsState)
