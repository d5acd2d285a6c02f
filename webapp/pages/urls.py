from __future__ import annotations

from django.urls import path

from webapp.pages import views

app_name = "pages"

urlpatterns = [
    path("", views.home, name="home"),
    path("upload/", views.upload, name="upload"),
    path("files/", views.file_list_page, name="file_list"),
    path("files/<uuid:file_id>/", views.file_detail_page, name="file_detail"),
    path("files/<uuid:file_id>/reprocess/", views.file_reprocess_page, name="file_reprocess"),
    path("jobs/<uuid:job_id>/retry/", views.job_retry_page, name="job_retry"),
]
