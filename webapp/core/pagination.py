"""Page-numbered lists whose `page` is what the schema says: a positive integer."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request


class StrictPageNumberPagination(PageNumberPagination):
    """DRF's pagination, except that an empty `page`, `page=last` and anything but ASCII
    digits are 404 "Invalid page." like a page past the end, rather than read as a page."""

    def get_page_number(self, request: Request, paginator: Any) -> Any:
        raw = request.query_params.get(self.page_query_param)
        if raw is None:
            return 1
        if not (raw.isascii() and raw.isdigit()):
            raise NotFound(self.invalid_page_message)
        return raw
