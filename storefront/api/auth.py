"""API-key authentication: ``Authorization: Api-Key gsk_<prefix8>_<secret32>``.

Only the key's SHA-256 is stored (``storefront.models.ApiKey``); the row is found by its
prefix and the hash compared in constant time. An unknown, malformed or revoked key, or a
key of an inactive partner, is refused with 401 ``unauthenticated`` (and
``WWW-Authenticate: Api-Key``); a request without the header is anonymous and refused by
``PartnerScopePermission`` with the same 401.

The row is read through ``keycache`` (cached by prefix for ``API_KEY_CACHE_SECONDS``,
invalidated on every change of the key or its partner): the hash comparison and the
checks below run on every request all the same.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from storefront.models import ApiKey

from . import PartnerUser, keycache

KEYWORD = "Api-Key"
KEY_PATTERN = re.compile(r"^gsk_(?P<prefix>[A-Za-z0-9]{8})_(?P<secret>[A-Za-z0-9]{32})$")
# last_used_at is written at most this often per key (one UPDATE a minute, not per request).
LAST_USED_RESOLUTION = timedelta(minutes=1)
# Compared with the stored hash when the prefix is unknown, so that timing says nothing.
UNKNOWN_KEY_HASH = "0" * 64
# When this process last wrote each key's last_used_at (by prefix). A cached row's own
# last_used_at is stale, so it cannot say whether a write is due; this memo can, without a
# query. Other processes have their own memo: the UPDATE is guarded in the database too.
_last_used_written: dict[str, datetime] = {}
LAST_USED_MEMO_LIMIT = 10_000


def api_key_hash(raw_key: str) -> str:
    """The SHA-256 (hex) stored for a raw key."""
    return hashlib.sha256(raw_key.encode()).hexdigest()


class ApiKeyAuthentication(BaseAuthentication):
    """Authenticate a partner by its API key; returns ``(PartnerUser(partner), api_key)``."""

    keyword = KEYWORD

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Send the header as 'Api-Key <key>'."))
        try:
            raw_key = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed(_("Invalid API key.")) from None
        return self.authenticate_key(raw_key)

    def authenticate_key(self, raw_key: str):
        match = KEY_PATTERN.match(raw_key)
        if not match:
            raise exceptions.AuthenticationFailed(_("Invalid API key."))
        api_key = keycache.api_key_get(prefix=match["prefix"])
        # Compare a hash even when the prefix is unknown, so timing says nothing.
        stored = api_key.key_hash if api_key else UNKNOWN_KEY_HASH
        if not hmac.compare_digest(stored, api_key_hash(raw_key)) or api_key is None:
            raise exceptions.AuthenticationFailed(_("Invalid API key."))
        if api_key.revoked_at is not None:
            raise exceptions.AuthenticationFailed(_("This API key has been revoked."))
        if not api_key.partner.is_active:
            raise exceptions.AuthenticationFailed(_("This partner account is not active."))
        last_used_touch(api_key)
        return PartnerUser(api_key.partner), api_key

    def authenticate_header(self, request) -> str:
        return self.keyword


def last_used_touch(api_key: ApiKey) -> None:
    """Record that the key was used, at most once per ``LAST_USED_RESOLUTION``: no query
    when this process wrote it less than that ago, otherwise an UPDATE that only changes a
    value at least that old (another process may have written it meanwhile)."""
    now = timezone.now()
    written = _last_used_written.get(api_key.prefix)
    if written is not None and timedelta(0) <= now - written < LAST_USED_RESOLUTION:
        return
    if ApiKey.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION),
        pk=api_key.pk,
    ).update(last_used_at=now):
        api_key.last_used_at = now
    if len(_last_used_written) >= LAST_USED_MEMO_LIMIT:
        _last_used_written.clear()  # a bound, not an eviction policy: costs a few UPDATEs
    _last_used_written[api_key.prefix] = now


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Declares the ``Api-Key`` header security scheme in the OpenAPI schema."""

    target_class = "storefront.api.auth.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Send `Authorization: Api-Key <your key>` (keys look like "
            "`gsk_<8 characters>_<32 characters>`; staff create them, see docs/api.md).",
        }
