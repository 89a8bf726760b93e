"""Safe retries of partner POSTs with an ``Idempotency-Key`` header.

``IdempotentPostMixin`` wraps the ``post`` method of any APIView that inherits it:

- no ``Idempotency-Key`` (or one longer than 255 characters) → 400
  ``idempotency_key_required``;
- the first request with a key stores an in-flight ``ApiIdempotencyKey`` (unique per
  partner and key, committed at once in its own transaction), runs the view, then stores
  the status and body of any answer below 500;
- the same key with the same request (sha256 of method, path and the canonical JSON
  body) replays the stored status and body with ``Idempotent-Replayed: true``;
- the same key with a different request → 409 ``idempotency_key_reused``;
- a concurrent duplicate waits (up to ``WAIT_SECONDS``) for the first to finish and
  replays it, else 409 ``idempotency_in_progress``;
- an unexpected 5xx deletes the row, so a retry runs the request again.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from storefront.errors import ApplicationError
from storefront.models import ApiIdempotencyKey

from . import partner_of

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_MAX_LENGTH = 255
WAIT_SECONDS = 10.0
POLL_SECONDS = 0.1


class IdempotencyError(ApplicationError):
    http_status = 409


def request_hash(request) -> str:
    """sha256 of the method, the path and the body as canonical JSON (sorted keys, no
    whitespace): the same order of keys or spacing does not make a different request."""
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    material = f"{request.method.upper()}\n{request.path}\n{body}"
    return hashlib.sha256(material.encode()).hexdigest()


def _replay(row: ApiIdempotencyKey) -> Response:
    response = Response(row.response_body, status=row.response_status)
    response[REPLAYED_HEADER] = "true"
    return response


def _claim(partner, key: str, digest: str, request) -> tuple[bool, ApiIdempotencyKey]:
    """(True, new row) when this request is the first with the key; else (False, row)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            with transaction.atomic():
                row = ApiIdempotencyKey.objects.create(
                    partner=partner,
                    key=key,
                    method=request.method.upper(),
                    path=request.path[:255],
                    request_hash=digest,
                )
            return True, row
        except IntegrityError:
            pass
        row = ApiIdempotencyKey.objects.filter(partner=partner, key=key).first()
        if row is None:  # the first one failed with a 5xx and was deleted: run again
            continue
        if row.request_hash != digest:
            raise IdempotencyError(
                _("This Idempotency-Key was already used for a different request."),
                code="idempotency_key_reused",
            )
        if row.response_status is not None:
            return False, row
        if time.monotonic() >= deadline:
            raise IdempotencyError(
                _("A request with this Idempotency-Key is still being processed; retry."),
                code="idempotency_in_progress",
            )
        time.sleep(POLL_SECONDS)


def idempotent(post):
    """Decorate an APIView's ``post`` (``IdempotentPostMixin`` does it for you)."""
    if getattr(post, "_idempotent", False):
        return post

    @functools.wraps(post)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get(HEADER, "").strip()
        if not key or len(key) > KEY_MAX_LENGTH:
            raise ApplicationError(
                _("Send an Idempotency-Key header (1–255 characters) with every POST."),
                code="idempotency_key_required",
                fields={HEADER: _("This header is required.")},
            )
        partner = partner_of(request)
        first, row = _claim(partner, key, request_hash(request), request)
        if not first:
            return _replay(row)
        try:
            try:
                response = post(self, request, *args, **kwargs)
            except Exception as exc:
                response = self.handle_exception(exc)  # re-raises what is not an API error
        except BaseException:
            ApiIdempotencyKey.objects.filter(pk=row.pk).delete()
            raise
        if response.status_code >= 500:
            ApiIdempotencyKey.objects.filter(pk=row.pk).delete()
            return response
        body = json.loads(JSONRenderer().render(response.data) or b"null")
        ApiIdempotencyKey.objects.filter(pk=row.pk).update(
            response_status=response.status_code,
            response_body=body,
            completed_at=timezone.now(),
        )
        return response

    wrapper._idempotent = True
    return wrapper


class IdempotentSchema(AutoSchema):
    """Documents the required ``Idempotency-Key`` header on POST operations."""

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self.method == "POST":
            parameters.append(
                OpenApiParameter(
                    HEADER,
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    required=True,
                    description="A unique key per operation (for example a UUID). "
                    "Retrying with the same key and body replays the first answer.",
                )
            )
        return parameters


class IdempotentPostMixin:
    """Make the view's ``post`` idempotent (see the module docstring). Works whether the
    view defines ``post`` itself or inherits it."""

    schema = IdempotentSchema()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        post = getattr(cls, "post", None)
        if post is not None and not getattr(post, "_idempotent", False):
            cls.post = idempotent(post)
