from __future__ import annotations

from django.urls import path

from webapp.files import api, jobs_api, live_api

app_name = "files"

urlpatterns = [
    path("", api.ApiRootApi.as_view(), name="api-root"),
    path("files/", api.FileListCreateApi.as_view(), name="file-list"),
    path("uploads/", api.UploadIntentApi.as_view(), name="upload-intents"),
    path("usage/", api.UsageApi.as_view(), name="usage"),
    path("jobs/", jobs_api.JobListApi.as_view(), name="job-list"),
    path("jobs/<str:job_id>/retry/", jobs_api.JobRetryApi.as_view(), name="job-retry"),
    path("files/<str:file_id>/", api.FileDetailApi.as_view(), name="file-detail"),
    path(
        "files/<str:file_id>/reprocess/",
        jobs_api.FileReprocessApi.as_view(),
        name="file-reprocess",
    ),
    path("files/<str:file_id>/events", live_api.FileEventsApi.as_view(), name="file-events"),
    path("files/<str:file_id>/content", api.FileContentApi.as_view(), name="file-content"),
    path(
        "files/<str:file_id>/derivatives/<str:kind>",
        api.DerivativeContentApi.as_view(),
        name="derivative-content",
    ),
]
