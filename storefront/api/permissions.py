"""Scope-based authorisation for partner API views.

A view declares ``required_scopes = {"GET": "catalog:read", "POST": "orders:write"}``.
No partner → 401; a method the view declares no scope for (or a view without the
declaration at all) → 403, so a forgotten declaration fails closed; a partner without the
scope → 403 ``scope_missing``.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.permissions import BasePermission

from . import partner_of


class ScopeMissing(exceptions.PermissionDenied):
    default_code = "scope_missing"
    default_detail = _("Your API key's partner does not have the scope this request needs.")


class ScopeUndeclared(exceptions.PermissionDenied):
    default_code = "forbidden"
    default_detail = _("This operation is not available to partners.")


class PartnerScopePermission(BasePermission):
    """Allow the request when it has a partner holding the scope the view requires for
    the request's method (HEAD and OPTIONS use GET's scope)."""

    def has_permission(self, request, view) -> bool:
        partner = partner_of(request)
        if partner is None:
            raise exceptions.NotAuthenticated()
        if not hasattr(view, request.method.lower()) and request.method.upper() != "HEAD":
            return True  # the view answers 405 for a method it does not implement
        scopes: dict[str, str] | None = getattr(view, "required_scopes", None)
        if not scopes:
            raise ScopeUndeclared()
        method = request.method.upper()
        if method in ("HEAD", "OPTIONS") and method not in scopes:
            method = "GET"
        scope = scopes.get(method)
        if scope is None:
            raise ScopeUndeclared()
        if not partner.has_scope(scope):
            raise ScopeMissing(_("This request needs the scope “%(scope)s”.") % {"scope": scope})
        return True
