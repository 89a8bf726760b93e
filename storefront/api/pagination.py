"""Cursor pagination for partner API lists: ``{"next", "previous", "results"}``.

``?limit=`` chooses the page size, at most ``API_PAGE_SIZE_MAX`` (larger values are
clamped, not refused); the default is ``API_PAGE_SIZE``. An invalid ``?cursor=`` is a 400
``invalid`` with ``fields["cursor"]``. A view sets ``ordering`` (a
unique, stable ordering such as ``("-created_at", "-id")``) on itself or here.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, pagination

INVALID_CURSOR = _("This cursor is not valid; start from the first page.")


class CursorPagination(pagination.CursorPagination):
    cursor_query_param = "cursor"
    page_size_query_param = "limit"
    ordering = "-pk"
    page_size = 50  # replaced per request by get_page_size()
    max_page_size = 200  # documents the bound in the schema; enforced from settings

    def decode_cursor(self, request):
        """A cursor we did not issue is a 400 ``invalid`` naming ``cursor`` (DRF's own
        answer is a 404, which would read as "no such list")."""
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:
            raise exceptions.ValidationError({self.cursor_query_param: INVALID_CURSOR}) from None

    def get_ordering(self, request, queryset, view):
        ordering = getattr(view, "ordering", None) or self.ordering
        if isinstance(ordering, str):
            return (ordering,)
        return tuple(ordering)

    def get_page_size(self, request) -> int:
        """``?limit=`` clamped to 1..API_PAGE_SIZE_MAX; API_PAGE_SIZE when absent or not a
        number (settings are read per request)."""
        default = settings.API_PAGE_SIZE
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return default
        try:
            size = int(raw)
        except (TypeError, ValueError):
            return default
        return max(1, min(size, settings.API_PAGE_SIZE_MAX))
