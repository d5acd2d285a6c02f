from __future__ import annotations

from django.urls import path

from webapp.files import api

app_name = "files"

urlpatterns = [
    path("", api.ApiRootApi.as_view(), name="api-root"),
    path("files/", api.FileListCreateApi.as_view(), name="file-list"),
    path("uploads/", api.UploadIntentApi.as_view(), name="upload-intents"),
    path("usage/", api.UsageApi.as_view(), name="usage"),
    path("files/<str:file_id>/", api.FileDetailApi.as_view(), name="file-detail"),
    path("files/<str:file_id>/content", api.FileContentApi.as_view(), name="file-content"),
    path(
        "files/<str:file_id>/derivatives/<str:kind>",
        api.DerivativeContentApi.as_view(),
        name="derivative-content",
    ),
]
