"""Every route of the webapp's URL configurations, and what kind of route it is.

`url_patterns()` walks `django.urls.get_resolver()` recursively, for the site's URLconf
and for the user-content host's; `classify()` finds each pattern in ROUTES (exact route
strings, those of the user-content host prefixed "usercontent:") or, for the two
third-party route sets that come whole, in one rule (the admin site's namespace,
allauth's views). The isolation tests fail for a pattern neither names, so a new route
cannot go untested.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

from webapp.usercontent.links import URLCONF as USERCONTENT_URLCONF


class Kind(enum.Enum):
    PUBLIC = "public: no login, nothing of any user's"
    AUTH_PAGE = "page of the signed-in user's own things"
    USER_API = "REST collection of the caller's own things"
    OWNED_API = "REST route naming one of the caller's objects"
    OWNED_PAGE = "page naming one of the caller's objects"
    ADMIN = "the admin site: staff only"
    ALLAUTH = "allauth's account pages"
    SCHEMA = "the OpenAPI schema and its docs"
    HEALTH = "liveness and readiness probes"
    SIGNED_CONTENT = "user-content host: bytes for whoever holds a valid signed link"


class Param(enum.Enum):
    """What a path parameter of an owned-object route names."""

    FILE = "a file's id"
    JOB = "a job's id"
    TOKEN = "an API token's id"
    DERIVATIVE = "a kind of derivative of the file (not an id of its own)"


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


@dataclass(frozen=True)
class Route:
    kind: Kind
    # The methods the route answers (any other gets 405), each with the status its
    # owner gets for owned-object routes (0 where no single status applies).
    methods: Mapping[str, int]
    params: Mapping[str, Param] = field(default_factory=dict)


def route(kind: Kind, methods: str) -> Route:
    return Route(kind, dict.fromkeys(methods.split(), 0))


def owned(kind: Kind, params: Mapping[str, Param], **statuses: int) -> Route:
    return Route(kind, statuses, params)


FILE = {"file_id": Param.FILE}
JOB = {"job_id": Param.JOB}
TOKEN = {"token_id": Param.TOKEN}
DERIVATIVE = {"file_id": Param.FILE, "kind": Param.DERIVATIVE}

API = Kind.OWNED_API
PAGE = Kind.OWNED_PAGE

ROUTES: dict[str, Route] = {
    # public
    "": route(Kind.PUBLIC, "GET HEAD"),
    "api/v1/": route(Kind.PUBLIC, "GET HEAD OPTIONS"),
    "healthz": route(Kind.HEALTH, "GET HEAD"),
    "readyz": route(Kind.HEALTH, "GET HEAD"),
    "api/schema/": route(Kind.SCHEMA, "GET HEAD OPTIONS"),
    "api/docs/": route(Kind.SCHEMA, "GET HEAD"),
    # the signed-in user's own things
    "upload/": route(Kind.AUTH_PAGE, "GET HEAD POST"),
    "files/": route(Kind.AUTH_PAGE, "GET HEAD"),
    "accounts/tokens/": route(Kind.AUTH_PAGE, "GET POST"),
    "api/v1/files/": route(Kind.USER_API, "GET HEAD POST OPTIONS"),
    "api/v1/uploads/": route(Kind.USER_API, "POST OPTIONS"),
    "api/v1/usage/": route(Kind.USER_API, "GET HEAD OPTIONS"),
    "api/v1/jobs/": route(Kind.USER_API, "GET HEAD OPTIONS"),
    "api/v1/tokens/": route(Kind.USER_API, "GET HEAD POST OPTIONS"),
    # one of the caller's objects
    "api/v1/files/<str:file_id>/": owned(API, FILE, GET=200, HEAD=200, DELETE=204, OPTIONS=200),
    "api/v1/files/<str:file_id>/reprocess/": owned(API, FILE, POST=202, OPTIONS=200),
    "api/v1/files/<str:file_id>/events": owned(API, FILE, GET=200, OPTIONS=200),
    "api/v1/files/<str:file_id>/content": owned(API, FILE, GET=200, HEAD=200, OPTIONS=200),
    "api/v1/files/<str:file_id>/derivatives/<str:kind>": owned(
        API, DERIVATIVE, GET=200, HEAD=200, OPTIONS=200
    ),
    "api/v1/jobs/<str:job_id>/retry/": owned(API, JOB, POST=202, OPTIONS=200),
    "api/v1/tokens/<int:token_id>/": owned(API, TOKEN, DELETE=204, OPTIONS=200),
    "files/<uuid:file_id>/": owned(PAGE, FILE, GET=200, HEAD=200),
    "files/<uuid:file_id>/reprocess/": owned(PAGE, FILE, POST=302),
    "jobs/<uuid:job_id>/retry/": owned(PAGE, JOB, POST=302),
    "accounts/tokens/<int:token_id>/revoke/": owned(PAGE, TOKEN, POST=302),
    # the user-content host (USP_USERCONTENT_ORIGIN): its own URLconf
    "usercontent:content/<str:token>": route(Kind.SIGNED_CONTENT, "GET HEAD"),
}


@dataclass(frozen=True)
class Pattern:
    """One URL pattern: its full route, its name with namespaces, and its view; `key` is
    its name in ROUTES."""

    route: str
    name: str | None
    namespace: str
    view: Any
    host: str = ""

    @property
    def key(self) -> str:
        return f"{self.host}:{self.route}" if self.host else self.route

    @property
    def view_module(self) -> str:
        view = getattr(self.view, "view_class", self.view)
        return str(getattr(view, "__module__", ""))


# URLconfs besides the site's, by the name their routes carry in ROUTES.
OTHER_URLCONFS = {"usercontent": USERCONTENT_URLCONF}


def url_patterns() -> list[Pattern]:
    """Every pattern of the site's URL configuration and of the other hosts', includes
    followed."""
    patterns = list(_walk(get_resolver(), "", "", ""))
    for host, urlconf in OTHER_URLCONFS.items():
        patterns += _walk(get_resolver(urlconf), "", "", host)
    return patterns


def _walk(resolver: URLResolver, prefix: str, namespace: str, host: str) -> Iterator[Pattern]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry, prefix + str(entry.pattern), inner, host)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}{entry.name}" if entry.name else None
            yield Pattern(prefix + str(entry.pattern), name, namespace, entry.callback, host)


def classify(pattern: Pattern) -> Kind | None:
    """The pattern's kind: from ROUTES, else from the admin or allauth rule; None when
    nothing names it."""
    if pattern.key in ROUTES:
        return ROUTES[pattern.key].kind
    if pattern.host:
        return None
    if pattern.namespace == "admin:" and pattern.route.startswith("admin/"):
        return Kind.ADMIN
    if pattern.view_module.startswith("allauth.") and pattern.route.startswith("accounts/"):
        return Kind.ALLAUTH
    return None


_CONVERTER = re.compile(r"(?<!\?P)<(?:(?P<converter>\w+):)?(?P<name>\w+)>")
_REGEX_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?:[^()]|\([^()]*\))*\)")


def path_for(route_string: str, values: Mapping[str, str]) -> str:
    """The path of `route_string` with each parameter replaced by `values[name]`
    (works for `path()` converters and for the named groups of `re_path()`)."""

    def value(match: re.Match[str]) -> str:
        return values[match.group("name")]

    text = _REGEX_GROUP.sub(value, route_string)
    text = _CONVERTER.sub(value, text)
    return "/" + text.replace("^", "").replace("$", "")


def parameter_names(route_string: str) -> list[str]:
    return [m.group("name") for m in _CONVERTER.finditer(route_string)] + [
        m.group("name") for m in _REGEX_GROUP.finditer(route_string)
    ]
