from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from webapp.core import views as core_views

admin.site.site_header = "upload-store-process"
admin.site.site_title = "upload-store-process admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("webapp.accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include("webapp.files.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script. It
    # is a page: OPTIONS, which it could only answer with a template error, is 405.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", http_method_names=["get", "head"]),
        name="api-docs",
    ),
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("", include("webapp.pages.urls")),
]

handler404 = "webapp.core.views.not_found"
handler500 = "webapp.core.views.server_error"
