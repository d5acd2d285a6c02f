"""What the OpenAPI schema says of every operation at once."""

from __future__ import annotations

from typing import Any

THROTTLED = {
    "description": "Too many requests (code throttled): wait Retry-After seconds",
    "headers": {
        "Retry-After": {
            "description": "Seconds until the request may be sent again",
            "schema": {"type": "integer", "minimum": 0},
        }
    },
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def document_throttling(result: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
    """Every API operation counts against a per-user rate (webapp.core.throttling), so
    every one may answer 429; drf-spectacular postprocessing hook."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            operation.setdefault("responses", {}).setdefault("429", THROTTLED)
    return result
