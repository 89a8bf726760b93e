"""Korean mobile phone numbers: what shoppers type, what is stored, what is shown
(DOMAIN.md, Address and phone).

- ``phone_normalize`` accepts ``010-1234-5678``, ``01012345678``, ``+82 10-1234-5678``,
  ``+821012345678`` (spaces, dots and hyphens anywhere) and returns E.164
  (``+821012345678``), the form addresses store. Only Korean mobile numbers (``01X`` + 7–8
  digits) pass: customs (PCCC) and the couriers' text messages need one. Masked virtual
  ``050`` numbers are refused with their own message, since they fail the PCCC check.
- ``phone_display`` turns E.164 back into ``010-1234-5678``; ``phone_mask`` into
  ``010-****-5678`` for staff lists, where the full number is not needed.
"""

from __future__ import annotations

import re

import phonenumbers
from django.utils.translation import gettext

from storefront.errors import ApplicationError

# What the database accepts (orders.models.E164_KR_MOBILE_REGEX): +82, then 1X and 7–8 digits.
E164_KR_MOBILE_RE = re.compile(r"^\+821[0-9][0-9]{7,8}$")
# Longer input is not a phone number; refusing it early keeps the parser's work bounded.
MAX_INPUT_LENGTH = 32
# Korean national numbers (without the trunk 0) of masked virtual numbers: 050X-...
VIRTUAL_PREFIX = "50"


class PhoneInvalid(ApplicationError):
    """The value is not a Korean mobile number (or is a masked virtual 050 number)."""

    code = "phone_invalid"


def _invalid(message: str) -> PhoneInvalid:
    return PhoneInvalid(message, fields={"phone": message})


def _not_mobile() -> PhoneInvalid:
    return _invalid(gettext("Enter a Korean mobile phone number, like 010-1234-5678."))


def phone_normalize(raw: str) -> str:
    """The E.164 form (``+821012345678``) of a Korean mobile number as a shopper typed it.

    Raises ``PhoneInvalid`` (field ``phone``) for anything else: empty or unreadable input,
    landlines, toll-free and other non-mobile numbers, foreign numbers, extensions, and
    masked virtual ``050`` numbers (which get a message of their own)."""
    value = (raw or "").strip()
    if not value or len(value) > MAX_INPUT_LENGTH:
        raise _not_mobile()
    try:
        number = phonenumbers.parse(value, "KR")
    except phonenumbers.NumberParseException as exc:
        raise _not_mobile() from exc
    if number.extension:
        raise _not_mobile()
    national = str(number.national_number)
    if number.country_code == 82 and national.startswith(VIRTUAL_PREFIX):
        raise _invalid(
            gettext(
                "Virtual (050) numbers cannot be used: customs and the courier need your own "
                "mobile number, like 010-1234-5678."
            )
        )
    if (
        number.country_code != 82
        or not phonenumbers.is_valid_number(number)
        or phonenumbers.number_type(number) != phonenumbers.PhoneNumberType.MOBILE
    ):
        raise _not_mobile()
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if not E164_KR_MOBILE_RE.fullmatch(e164):  # the database would refuse it anyway
        raise _not_mobile()
    return e164


def phone_display(e164: str) -> str:
    """A stored E.164 number as Koreans write it: ``+821012345678`` → ``010-1234-5678``.
    Anything that is not a Korean mobile number in E.164 is returned unchanged."""
    if not e164 or not E164_KR_MOBILE_RE.fullmatch(e164):
        return e164 or ""
    national = "0" + e164[3:]  # 010 + 7 or 8 digits
    return f"{national[:3]}-{national[3:-4]}-{national[-4:]}"


def phone_mask(e164: str) -> str:
    """A stored number with its middle digits hidden, for staff and admin lists:
    ``+821012345678`` → ``010-****-5678``. Anything that is not a Korean mobile number in
    E.164 becomes ``***`` plus its last two characters (never the whole value)."""
    if not e164:
        return ""
    if not E164_KR_MOBILE_RE.fullmatch(e164):
        return "***" + e164[-2:]
    display = phone_display(e164)
    head, middle, tail = display.split("-")
    return f"{head}-{'*' * len(middle)}-{tail}"
