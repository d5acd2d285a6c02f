"""The whole URL configuration of the user-content host: signed content links, nothing
else. No admin, API, pages, static files or accounts answer there."""

from __future__ import annotations

from django.urls import path

from webapp.usercontent import views

urlpatterns = [
    path("content/<str:token>", views.content, name="content"),
]
