"""The account page and the tokens API; included at the site root."""

from __future__ import annotations

from django.urls import path

from webapp.accounts import api, views

app_name = "accounts"

urlpatterns = [
    path("accounts/tokens/", views.token_page, name="tokens"),
    path("accounts/tokens/<int:token_id>/revoke/", views.token_revoke, name="token-revoke"),
    path("api/v1/tokens/", api.TokenListCreateApi.as_view(), name="token-list"),
    path("api/v1/tokens/<int:token_id>/", api.TokenDetailApi.as_view(), name="token-detail"),
]
