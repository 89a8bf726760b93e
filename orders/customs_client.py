"""Client for the customs PCCC check (UNI-PASS style; the sandbox locally).

One call, ``pccc_verify``: is this PCCC registered to this recipient? Real HTTP to
``POST <CUSTOMS_CHECK_URL>/pccc/verify`` with a timeout (``CUSTOMS_CHECK_TIMEOUT_SECONDS``)
and ``CUSTOMS_CHECK_RETRIES`` retries, after a short growing pause, of timeouts,
connection errors, 5xx/429 answers and malformed answers. When the service still gives
no usable answer: ``CustomsCheckUnavailable`` (the shopper tries again in a moment).

Request and answers::

    {"pccc": "P100000000001", "name": "홍길동", "phone": "+821012345678",
     "postal_code": "06236", "address": "서울특별시 강남구 테헤란로 152"}
    → {"valid": true}
    → {"valid": false, "reasons": {"name": "...", "phone": "...", "postal_code": "...",
                                   "address": "...", "pccc": "..."}}

Reasons come back keyed by our checkout form's fields (``FIELD_FOR_REASON``), in the
service's words. The PCCC (and the recipient's details) are never logged nor put in an
exception message: logs show the mask, ``P••••••••0001``.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from django.conf import settings
from django.utils.translation import gettext

from storefront.errors import ApplicationError

from .pccc import pccc_mask, pccc_normalize

logger = logging.getLogger(__name__)

RETRY_BACKOFF_SECONDS = 0.1  # 0.1 s, 0.2 s, ...: a blip, not an outage; the shopper waits
# The service's field names → our checkout form's field names.
FIELD_FOR_REASON = {
    "pccc": "pccc",
    "name": "recipient_name",
    "phone": "phone",
    "postal_code": "postal_code",
    "address": "road_address",
}


class CustomsCheckUnavailable(ApplicationError):
    """The customs check gave no usable answer after the retries; nothing was decided."""

    code = "customs_check_unavailable"


class _Malformed(Exception):
    """The service answered 200 with something that is not a verification."""


@dataclass(frozen=True)
class PcccVerification:
    """The customs check's verdict. ``reasons`` maps our form fields (``pccc``,
    ``recipient_name``, ``phone``, ``postal_code``, ``road_address``) to the service's
    reason; empty when ``valid``."""

    valid: bool
    reasons: dict[str, str] = field(default_factory=dict)


def pccc_verify(
    *, pccc: str, name: str, phone_e164: str, postal_code: str, address: str
) -> PcccVerification:
    """Ask customs whether ``pccc`` is registered to this name, phone, postal code and road
    address (what must match depends on the date; the service decides).

    Raises ``PcccInvalid`` (no call made) when ``pccc`` is not shaped like a PCCC, and
    ``CustomsCheckUnavailable`` when the service fails on every attempt. A refusal is not
    an error: it comes back as ``valid=False`` with its reasons.
    """
    pccc = pccc_normalize(pccc)
    masked = pccc_mask(pccc[-4:])
    payload = {
        "pccc": pccc,
        "name": name,
        "phone": phone_e164,
        "postal_code": postal_code,
        "address": address,
    }
    url = f"{settings.CUSTOMS_CHECK_URL.rstrip('/')}/pccc/verify"
    attempts = max(0, settings.CUSTOMS_CHECK_RETRIES) + 1
    failure = ""
    with httpx.Client(timeout=settings.CUSTOMS_CHECK_TIMEOUT_SECONDS) as http:
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                time.sleep(RETRY_BACKOFF_SECONDS * 2 ** (attempt - 2))
            try:
                response = http.post(url, json=payload, headers={"Accept": "application/json"})
            except httpx.TimeoutException:
                failure = "timed out"
            except httpx.TransportError as exc:
                failure = f"unreachable ({type(exc).__name__})"
            else:
                if response.status_code == 200:
                    try:
                        verification = _parse(response.content)
                    except _Malformed as exc:
                        failure = f"malformed answer ({exc})"
                    else:
                        _log_verdict(masked, verification)
                        return verification
                elif response.is_server_error or response.status_code == 429:
                    failure = f"answered {response.status_code}"
                else:
                    # A 4xx means we sent something it will not take: retrying cannot help.
                    logger.error(
                        "customs check for %s refused the request: %s",
                        masked,
                        response.status_code,
                    )
                    raise _unavailable()
            logger.warning(
                "customs check for %s: attempt %d/%d %s", masked, attempt, attempts, failure
            )
    logger.error(
        "customs check for %s unavailable after %d attempts: %s", masked, attempts, failure
    )
    raise _unavailable()


def _unavailable() -> CustomsCheckUnavailable:
    # The shopper's message only: the log lines above say what went wrong (masked).
    return CustomsCheckUnavailable(
        gettext("We could not check your PCCC with customs just now. Please try again in a moment.")
    )


def _parse(body: bytes) -> PcccVerification:
    try:
        answer: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _Malformed("not JSON") from exc
    if not isinstance(answer, dict) or not isinstance(answer.get("valid"), bool):
        raise _Malformed("no boolean 'valid'")
    if answer["valid"]:
        return PcccVerification(valid=True)
    raw_reasons = answer.get("reasons") or {}
    if not isinstance(raw_reasons, dict) or not all(
        isinstance(text, str) for text in raw_reasons.values()
    ):
        raise _Malformed("'reasons' is not an object of texts")
    reasons: dict[str, str] = {}
    unplaced: list[str] = []
    for service_field, text in raw_reasons.items():
        form_field = FIELD_FOR_REASON.get(service_field)
        if form_field is None:
            unplaced.append(text)
        else:
            reasons[form_field] = text.strip() or _default_reason()
    if unplaced or not reasons:
        # A refusal must always show the shopper something: put the rest on the PCCC.
        texts = [reasons["pccc"]] if "pccc" in reasons else []
        texts += [text.strip() for text in unplaced if text.strip()]
        reasons["pccc"] = " ".join(texts) or _default_reason()
    return PcccVerification(valid=False, reasons=reasons)


def _default_reason() -> str:
    return gettext("Customs did not accept this PCCC with these recipient details.")


def _log_verdict(masked: str, verification: PcccVerification) -> None:
    if verification.valid:
        logger.info("customs check for %s: valid", masked)
    else:
        logger.info(
            "customs check for %s: refused on %s", masked, ", ".join(sorted(verification.reasons))
        )
