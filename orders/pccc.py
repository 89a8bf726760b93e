"""The personal customs clearance code (PCCC, 개인통관고유부호): shape, encryption at rest,
masking, and keeping it out of logs (DOMAIN.md, PCCC).

- ``pccc_normalize`` accepts what shoppers type (``p1234 5678-9012``...) and returns the
  canonical ``P`` + 12 digits, or raises ``PcccInvalid``. The check-digit algorithm is not
  public: the customs check (``orders.customs_client``) decides whether the code is real.
- ``pccc_encrypt`` / ``pccc_decrypt``: Fernet tokens under ``settings.PCCC_ENCRYPTION_KEYS``
  (comma-separated; the first key encrypts, every key decrypts, so keys rotate by putting
  a new one first and running ``pccc_reencrypt`` over the stored tokens). With no keys set,
  a key derived from ``SECRET_KEY`` is used: development only (``check --deploy`` warns).
- ``pccc_last4`` / ``pccc_mask``: what admin pages and logs show, ``P••••••••9012``.
- ``PcccRedactingFilter``: a logging filter (installed on every handler in
  ``settings.LOGGING``) that masks anything shaped like a PCCC in a log record.
"""

from __future__ import annotations

import base64
import logging
import re
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core import checks
from django.utils.translation import gettext

from storefront.errors import ApplicationError

PCCC_RE = re.compile(r"^P[0-9]{12}$")  # ASCII digits only (\d takes any script's)
# What a shopper may put between the characters of a PCCC.
SEPARATORS_RE = re.compile(r"[\s\-]+")
# A PCCC anywhere in free text: P and 12 digits, any case, spaces or hyphens in between.
# Deliberately generous (also inside longer strings): a false mask in a log line costs
# nothing, a leaked PCCC does.
PCCC_IN_TEXT_RE = re.compile(r"[Pp][\s\-]*((?:\d[\s\-]*){8})(\d[\s\-]*\d[\s\-]*\d[\s\-]*\d)")
MASK_CHAR = "•"
MASKED_LENGTH = 13  # as long as a PCCC: P, 8 bullets, the last 4 digits
DEV_KEY_INFO = b"globalstore pccc encryption key derived from SECRET_KEY (development only)"


class PcccInvalid(ApplicationError):
    """The value is not shaped like a PCCC (``P`` followed by 12 digits)."""

    code = "pccc_invalid"


class PcccUndecryptable(RuntimeError):
    """A stored PCCC token cannot be decrypted with any configured key (a key was removed
    too early, or the data was encrypted elsewhere). Carries no part of the token."""


def pccc_normalize(raw: str) -> str:
    """The canonical PCCC (``P`` + 12 digits) for what a shopper typed: spaces and hyphens
    removed, upper case. Raises ``PcccInvalid`` (field ``pccc``) when the shape is wrong."""
    value = SEPARATORS_RE.sub("", raw or "").upper()
    if not PCCC_RE.fullmatch(value):
        message = gettext("A PCCC is P followed by 12 digits, like P123456789012.")
        raise PcccInvalid(message, fields={"pccc": message})
    return value


def pccc_last4(value: str) -> str:
    """The last four digits of a PCCC (normalised first; ``PcccInvalid`` when malformed)."""
    return pccc_normalize(value)[-4:]


def pccc_mask(last4: str) -> str:
    """The PCCC as admin pages and logs show it: ``P••••••••1234``, always 13 characters
    whatever ``last4`` holds (shorter input is padded with bullets, longer is cut)."""
    tail = (last4 or "")[-4:]
    return "P" + MASK_CHAR * (MASKED_LENGTH - 1 - len(tail)) + tail


# --- Encryption at rest ------------------------------------------------------------------


def pccc_encrypt(value: str) -> str:
    """A Fernet token (ASCII text) for the normalised PCCC, under the first configured key.
    Two encryptions of the same PCCC differ (random IV), so tokens cannot be compared."""
    return _fernet().encrypt(pccc_normalize(value).encode()).decode("ascii")


def pccc_decrypt(token: str) -> str:
    """The PCCC inside a token made by ``pccc_encrypt`` under any configured key.
    Raises ``PcccUndecryptable`` when no key opens it."""
    try:
        return _fernet().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeError) as exc:
        raise PcccUndecryptable(
            "a stored PCCC cannot be decrypted with the configured PCCC_ENCRYPTION_KEYS"
        ) from exc


def pccc_reencrypt(token: str) -> str:
    """The same PCCC re-encrypted under the current first key (for key rotation: once every
    stored token has been re-encrypted, the old key can be dropped from the setting)."""
    try:
        return _fernet().rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeError) as exc:
        raise PcccUndecryptable(
            "a stored PCCC cannot be decrypted with the configured PCCC_ENCRYPTION_KEYS"
        ) from exc


def pccc_generate_key() -> str:
    """A new random Fernet key, for ``PCCC_ENCRYPTION_KEYS``."""
    return Fernet.generate_key().decode("ascii")


def encryption_keys() -> tuple[str, ...]:
    """The configured keys, first one encrypting; the SECRET_KEY-derived development key
    when none is configured."""
    configured = settings.PCCC_ENCRYPTION_KEYS
    if isinstance(configured, str):
        configured = configured.split(",")
    keys = tuple(key.strip() for key in configured if key and key.strip())
    return keys or (_development_key(settings.SECRET_KEY),)


def _fernet() -> MultiFernet:
    return _fernet_for(encryption_keys())


@lru_cache(maxsize=8)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except (ValueError, TypeError) as exc:
        # Never echo the key itself.
        raise ValueError(
            "PCCC_ENCRYPTION_KEYS holds a value that is not a Fernet key "
            "(32 url-safe base64-encoded bytes; `manage.py pccc_generate_key` makes one)"
        ) from exc


@lru_cache(maxsize=4)
def _development_key(secret_key: str) -> str:
    """A Fernet key derived from SECRET_KEY, so `make run` works with nothing configured.
    Development only: changing SECRET_KEY makes stored PCCCs unreadable."""
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=DEV_KEY_INFO).derive(
        secret_key.encode()
    )
    return base64.urlsafe_b64encode(derived).decode("ascii")


@checks.register(checks.Tags.security, deploy=True)
def check_pccc_keys_configured(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """``manage.py check --deploy``: production must set its own PCCC keys."""
    if encryption_keys() == (_development_key(settings.SECRET_KEY),):
        return [
            checks.Warning(
                "PCCC_ENCRYPTION_KEYS is not set: PCCCs are encrypted with a key derived "
                "from SECRET_KEY, which is meant for development only.",
                hint="Set PCCC_ENCRYPTION_KEYS (manage.py pccc_generate_key makes a key).",
                id="orders.W001",
            )
        ]
    return []


# --- Logs --------------------------------------------------------------------------------


def pccc_redact(text: str) -> str:
    """``text`` with everything shaped like a PCCC replaced by its mask."""
    return PCCC_IN_TEXT_RE.sub(_mask_match, text)


def _mask_match(match: re.Match[str]) -> str:
    return pccc_mask(SEPARATORS_RE.sub("", match.group(2)))


class PcccRedactingFilter(logging.Filter):
    """Masks PCCCs in a log record: its message with its arguments, its exception text and
    its stack info. Never drops a record. Installed on every handler in settings.LOGGING."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the handler's to report
            message = None
        if message is not None:
            redacted = pccc_redact(message)
            if redacted != message:
                # Freeze the formatted message: the arguments held the PCCC.
                record.msg, record.args = redacted, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = pccc_redact(record.exc_text)
        if record.stack_info:
            record.stack_info = pccc_redact(record.stack_info)
        return True
