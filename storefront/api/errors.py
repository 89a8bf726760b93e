"""One error format for the whole partner API: ``{"code", "message", "fields"}``.

``code`` is stable (partners match on it, docs/api.md lists them); ``message`` is for
people; ``fields`` names every bad input field (``{}`` when the error is not about one).
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from storefront.errors import ApplicationError

logger = logging.getLogger(__name__)

# DRF exception class -> our stable code.
CODES: list[tuple[type[Exception], str]] = [
    (exceptions.ParseError, "malformed_json"),
    (exceptions.NotAuthenticated, "unauthenticated"),
    (exceptions.AuthenticationFailed, "unauthenticated"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.Throttled, "rate_limited"),
]


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"code": code, "message": str(message), "fields": fields or {}}


def _first_message(detail) -> str:
    if isinstance(detail, list):
        return _first_message(detail[0]) if detail else ""
    if isinstance(detail, dict):
        return _first_message(next(iter(detail.values()))) if detail else ""
    return str(detail)


def flatten_fields(detail, prefix: str = "") -> dict[str, str]:
    """``{"lines": [{"asin": ["Required."]}]}`` → ``{"lines[0].asin": "Required."}``: each
    bad field with its first message."""
    fields: dict[str, str] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
                name = f"{prefix}[{key}]"  # a list child's errors come keyed by index
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            fields.update(flatten_fields(value, name))
    elif isinstance(detail, list):
        if detail and all(not isinstance(item, dict | list) for item in detail):
            fields[prefix or "non_field_errors"] = str(detail[0])
        else:
            for index, item in enumerate(detail):
                if item in ({}, [], None, ""):
                    continue
                fields.update(flatten_fields(item, f"{prefix}[{index}]"))
    else:
        fields[prefix or "non_field_errors"] = str(detail)
    return fields


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's exception handler for the partner API. Unexpected exceptions return ``None``
    (DRF re-raises them: a 500, logged, which is a bug to fix)."""
    if isinstance(exc, ApplicationError):
        status_code = getattr(exc, "http_status", status.HTTP_400_BAD_REQUEST)
        return Response(
            error_body(exc.code, exc.message, {k: str(v) for k, v in exc.fields.items()}),
            status=status_code,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None

    if isinstance(exc, exceptions.ValidationError):
        fields = flatten_fields(exc.detail)
        body = error_body("invalid", _("Some fields are invalid; see “fields”."), fields)
    else:
        code = next((code for cls, code in CODES if isinstance(exc, cls)), None)
        if code is None:
            code = getattr(exc.detail, "code", None) or exc.default_code
            if isinstance(exc, exceptions.PermissionDenied) and code == "permission_denied":
                code = "forbidden"
        message = _first_message(exc.detail)
        if isinstance(exc, exceptions.ParseError):
            message = _("The request body is not valid JSON.")
        body = error_body(code, message)
    response.data = body
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        response["WWW-Authenticate"] = "Api-Key"
        response.status_code = status.HTTP_401_UNAUTHORIZED
    return response
