"""The partner REST API's shared plumbing (docs/api.md).

Views under ``/api/v1/`` authenticate with ``auth.ApiKeyAuthentication``, are authorised
by ``permissions.PartnerScopePermission`` (each view declares ``required_scopes``),
throttled per partner, paginated with a cursor and answer every error as
``{"code", "message", "fields"}`` (``errors.api_exception_handler``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rest_framework.request import Request

    from storefront.models import Partner


class PartnerUser:
    """What ``request.user`` is on an API request authenticated by a partner's key: not a
    Django user, just the partner behind the key. ``is_authenticated`` is true."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, partner: Partner) -> None:
        self.partner = partner
        self.pk = None
        self.id = None

    def __str__(self) -> str:
        return f"partner:{self.partner.pk}"

    def has_perm(self, *args, **kwargs) -> bool:
        return False


def partner_of(request: Request) -> Partner | None:
    """The partner whose key authenticated this request, or ``None`` when there is none
    (views behind ``PartnerScopePermission`` always have one)."""
    user = getattr(request, "user", None)
    return getattr(user, "partner", None)
