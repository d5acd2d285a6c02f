"""The catalog in the admin: counts per state, failed jobs with their errors, derivative
thumbnails, and the retry and reprocess actions (through the same services as the API).

Staff read every file here, and only here: derivatives stream through an admin view
that checks the admin's own permissions, never through the owners-only REST API.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Model, Prefetch, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from webapp.core.errors import ApplicationError, NotFound
from webapp.files.downloads import download_response
from webapp.files.models import Derivative, File, FileState, Job, JobState, UploadIntent
from webapp.files.reruns import file_reprocess, job_retry
from webapp.files.selectors import derivative_content_target
from webapp.files.services import file_delete

THUMBNAIL_PREFIX = "thumbnail"
ERROR_SHOWN = 80


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False


class JobInline(_ReadOnlyInline):
    model = Job
    fields = (
        "step",
        "state",
        "attempts",
        "error",
        "error_class",
        "superseded",
        "started_at",
        "finished_at",
    )
    readonly_fields = fields
    show_change_link = True


class DerivativeInline(_ReadOnlyInline):
    model = Derivative
    fields = ("preview", "kind", "content_type", "size", "sha256", "created_at")
    readonly_fields = fields

    @admin.display(description="Preview")
    def preview(self, derivative: Derivative) -> str:
        if not derivative.content_type.startswith("image/"):
            return ""
        return _thumbnail_img(derivative.file_id, derivative.kind, width=128)


class UploadIntentInline(_ReadOnlyInline):
    model = UploadIntent
    fields = ("session_id", "idempotency_key", "expires_at", "max_size", "created_at")
    readonly_fields = fields


def _thumbnail_img(file_id: object, kind: str, *, width: int) -> str:
    url = reverse("admin:files_file_derivative", args=[file_id, kind])
    return format_html('<img src="{}" alt="" width="{}" loading="lazy">', url, width)


def state_counts(
    queryset: QuerySet[Any], choices: Iterable[tuple[str, str]]
) -> list[tuple[str, str, int]]:
    """(state, label, count) for every state, zeros included, in the model's order."""
    counts = dict(queryset.values_list("state").annotate(n=Count("pk")).order_by())
    return [(state, label, counts.get(state, 0)) for state, label in choices]


def _report(
    request: HttpRequest,
    admin_view: admin.ModelAdmin[Any],
    items: Iterable[Model],
    act: Callable[[Any], object],
    done: str,
) -> None:
    """Run `act` on each item; one message with how many worked, one per refusal."""
    succeeded = 0
    for item in items:
        try:
            act(item)
        except ApplicationError as error:
            admin_view.message_user(request, f"{item}: {error.message}", messages.WARNING)
        else:
            succeeded += 1
    if succeeded:
        admin_view.message_user(request, done.format(count=succeeded), messages.SUCCESS)


class _StateCountsAdmin(admin.ModelAdmin):
    """A changelist with a line of counts per state above it."""

    state_choices: Iterable[tuple[str, str]] = ()

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        counts = state_counts(self.model._default_manager.all(), self.state_choices)
        context = {**(extra_context or {}), "state_counts": counts}
        return super().changelist_view(request, extra_context=context)


@admin.register(File)
class FileAdmin(_StateCountsAdmin):
    state_choices = FileState.choices
    list_display = ("thumbnail", "name", "owner", "state", "size", "content_type", "created_at")
    list_display_links = ("name",)
    list_filter = ("state", "content_type")
    search_fields = ("name", "owner__email", "owner__username", "sha256")
    list_select_related = ("owner",)
    date_hierarchy = "created_at"
    actions = ("reprocess_files",)
    readonly_fields = (
        "id",
        "size",
        "content_type",
        "sha256",
        "state",
        "error",
        "charged_bytes",
        "created_at",
        "updated_at",
    )
    fields = ("id", "owner", "name", *readonly_fields[1:], "metadata")
    raw_id_fields = ("owner",)
    inlines = (UploadIntentInline, JobInline, DerivativeInline)

    def get_queryset(self, request: HttpRequest) -> QuerySet[File]:
        thumbnails = Derivative.objects.filter(
            kind__startswith=THUMBNAIL_PREFIX, content_type__startswith="image/"
        ).order_by("size")
        return (
            super()
            .get_queryset(request)
            .prefetch_related(Prefetch("derivatives", thumbnails, to_attr="thumbnails"))
        )

    @admin.display(description="Preview")
    def thumbnail(self, file: File) -> str:
        thumbnails = getattr(file, "thumbnails", None)
        if not thumbnails:
            return ""
        return _thumbnail_img(file.pk, thumbnails[0].kind, width=64)

    @admin.action(description="Reprocess selected files", permissions=["change"])
    def reprocess_files(self, request: HttpRequest, queryset: QuerySet[File]) -> None:
        _report(
            request,
            self,
            queryset,
            lambda file: file_reprocess(file=file),
            "{count} file(s) queued for processing again.",
        )

    def get_urls(self) -> list[URLPattern]:
        derivative = path(
            "<path:object_id>/derivatives/<str:kind>/",
            self.admin_site.admin_view(self.derivative_view),
            name="files_file_derivative",
        )
        return [derivative, *super().get_urls()]

    def derivative_view(self, request: HttpRequest, object_id: str, kind: str) -> HttpResponseBase:
        """A derivative's bytes for staff who may view the file (thumbnails above)."""
        file = self.get_object(request, object_id)
        if file is None:
            raise Http404("No such file.")
        if not self.has_view_permission(request, file):
            raise PermissionDenied
        try:
            return download_response(request, derivative_content_target(file=file, kind=kind))
        except NotFound as error:
            raise Http404(error.message) from error
        except ApplicationError as error:
            return HttpResponse(error.message, status=error.http_status, content_type="text/plain")

    def delete_model(self, request: HttpRequest, obj: File) -> None:
        # Through the service: storage forgets the bytes and the owner's quota is released.
        file_delete(file=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[File]) -> None:
        for file in queryset:
            file_delete(file=file)


@admin.register(Job)
class JobAdmin(_StateCountsAdmin):
    state_choices = JobState.choices
    list_display = (
        "step",
        "file",
        "state",
        "attempts",
        "error_summary",
        "error_class",
        "next_retry_at",
        "started_at",
        "finished_at",
    )
    list_filter = ("state", "step", "error_class", "superseded")
    search_fields = ("file__name", "file__sha256", "id", "error_code")
    list_select_related = ("file",)
    actions = ("retry_jobs",)
    readonly_fields = (
        "id",
        "file",
        "step",
        "position",
        "state",
        "attempts",
        "error",
        "error_code",
        "error_class",
        "next_retry_at",
        "superseded",
        "last_sequence",
        "started_at",
        "finished_at",
        "created_at",
        "updated_at",
    )

    @admin.display(description="Error", ordering="error")
    def error_summary(self, job: Job) -> str:
        return Truncator(job.error).chars(ERROR_SHOWN)

    @admin.action(description="Retry selected failed jobs", permissions=["change"])
    def retry_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        _report(
            request,
            self,
            queryset.select_related("file"),
            lambda job: job_retry(job=job),
            "{count} job(s) queued to run again.",
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Jobs come from storage's dispatch; there is nothing to add by hand.
        return False
