"""Per-user request rates of the APIs: one counter in the cache, used by the REST API's
throttle and the gRPC ApiService alike.

Each caller (a user, or an anonymous client address) has a counter per scope and fixed
window of the scope's rate (`settings.USP.throttle_uploads`, `throttle_api`); a request
past the rate is refused until the window ends. Counting with the cache's atomic
`add`/`incr` keeps threads and, with Redis, processes from racing each other; a fixed
window may let up to twice the rate through around a window's end, the price of that.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from webapp.config.env import Rate

logger = logging.getLogger(__name__)

UPLOADS = "uploads"
API = "api"
SCOPES = (UPLOADS, API)
_KEY_PREFIX = "throttle"


def scope_rate(scope: str) -> Rate | None:
    """The configured rate of `scope`; None when it is unlimited."""
    rates: dict[str, Rate | None] = {
        UPLOADS: settings.USP.throttle_uploads,
        API: settings.USP.throttle_api,
    }
    return rates[scope]


def throttle_wait(*, scope: str, caller: str, now: float | None = None) -> int | None:
    """Count one request of `caller` in `scope`: None when it is within the rate, else
    the whole seconds (at least 1) until the window in which requests are allowed again."""
    rate = scope_rate(scope)
    if rate is None:
        return None
    now = time.time() if now is None else now
    window = int(now // rate.seconds)
    key = f"{_KEY_PREFIX}:{scope}:{caller}:{window}"
    if _count(key, timeout=rate.seconds + 1) <= rate.requests:
        return None
    logger.info("request throttled", extra={"fields": {"scope": scope, "caller": caller}})
    return max(1, math.ceil((window + 1) * rate.seconds - now))


def _count(key: str, *, timeout: int) -> int:
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # the key expired between add and incr: a new window began
        cache.add(key, 1, timeout=timeout)
        return 1


def user_caller(user_id: Any) -> str:
    return f"user:{user_id}"


class UserRateThrottle(BaseThrottle):
    """The REST API's throttle: scope "uploads" for the methods a view lists in
    `upload_methods` (creating uploads), "api" for everything else; counted per
    authenticated user (whatever the credential: session or any of their tokens), and per
    client address for anonymous requests."""

    def __init__(self) -> None:
        self._wait: int | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        upload_methods = getattr(view, "upload_methods", ())
        scope = UPLOADS if request.method in upload_methods else API
        self._wait = throttle_wait(scope=scope, caller=self._caller(request))
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait

    def _caller(self, request: Request) -> str:
        user = request.user
        if user is not None and user.is_authenticated:
            return user_caller(user.pk)
        return f"ip:{self.get_ident(request)}"
