"""API-key authentication: ``Authorization: Api-Key gsk_<prefix8>_<secret32>``.

Only the key's SHA-256 is stored (``storefront.models.ApiKey``); the row is found by its
prefix and the hash compared in constant time. An unknown, malformed or revoked key, or a
key of an inactive partner, is refused with 401 ``unauthenticated`` (and
``WWW-Authenticate: Api-Key``); a request without the header is anonymous and refused by
``PartnerScopePermission`` with the same 401.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from storefront.models import ApiKey

from . import PartnerUser

KEYWORD = "Api-Key"
KEY_PATTERN = re.compile(r"^gsk_(?P<prefix>[A-Za-z0-9]{8})_(?P<secret>[A-Za-z0-9]{32})$")
# last_used_at is written at most this often per key (one UPDATE a minute, not per request).
LAST_USED_RESOLUTION = timedelta(minutes=1)


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
        api_key = ApiKey.objects.select_related("partner").filter(prefix=match["prefix"]).first()
        # Compare a hash even when the prefix is unknown, so timing says nothing.
        stored = api_key.key_hash if api_key else "0" * 64
        if not hmac.compare_digest(stored, api_key_hash(raw_key)) or api_key is None:
            raise exceptions.AuthenticationFailed(_("Invalid API key."))
        if api_key.revoked_at is not None:
            raise exceptions.AuthenticationFailed(_("This API key has been revoked."))
        if not api_key.partner.is_active:
            raise exceptions.AuthenticationFailed(_("This partner account is not active."))
        now = timezone.now()
        if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
            api_key.last_used_at = now
        return PartnerUser(api_key.partner), api_key

    def authenticate_header(self, request) -> str:
        return self.keyword


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
