"""The account page: usage against quota and the user's API tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from webapp.accounts.forms import TokenCreateForm
from webapp.accounts.models import ApiToken, User
from webapp.accounts.selectors import usage_get
from webapp.accounts.services import api_token_create, api_token_revoke
from webapp.accounts.tokens import expiry_from_days, token_get, token_list, token_state
from webapp.core.errors import ApplicationError, NotFound


@dataclass(frozen=True)
class TokenRow:
    token: ApiToken
    state: str


@login_required
@require_http_methods(["GET", "POST"])
def token_page(request: HttpRequest) -> HttpResponse:
    form = TokenCreateForm(request.POST or None)
    new_key = None
    new_token = None
    if request.method == "POST" and form.is_valid():
        try:
            new_token, new_key = api_token_create(
                user=_signed_in(request),
                name=form.cleaned_data["name"],
                expires_at=expiry_from_days(form.cleaned_data["expires_in_days"]),
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            form = TokenCreateForm()
    response = render(
        request,
        "accounts/tokens.html",
        {
            "form": form,
            "new_key": new_key,
            "new_token": new_token,
            "rows": [TokenRow(t, token_state(t)) for t in token_list(user=_signed_in(request))],
            "usage": usage_get(user=_signed_in(request)),
        },
        status=400 if request.method == "POST" and new_key is None else 200,
    )
    # The key is in this one answer only: never cached anywhere.
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    try:
        token = token_get(user=_signed_in(request), token_id=token_id)
    except NotFound as exc:
        raise Http404("No such token.") from exc
    api_token_revoke(token=token)
    messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("accounts:tokens")


def _signed_in(request: HttpRequest) -> User:
    """The user of a request that login_required let through."""
    return cast(User, request.user)
