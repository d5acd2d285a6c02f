from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from webapp.files.models import Derivative, File, Job, UploadIntent
from webapp.files.services import file_delete


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
    fields = ("step", "state", "attempts", "error", "started_at", "finished_at")
    readonly_fields = fields


class DerivativeInline(_ReadOnlyInline):
    model = Derivative
    fields = ("kind", "content_type", "size", "sha256", "created_at")
    readonly_fields = fields


class UploadIntentInline(_ReadOnlyInline):
    model = UploadIntent
    fields = ("session_id", "idempotency_key", "expires_at", "max_size", "created_at")
    readonly_fields = fields


@admin.register(File)
class FileAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "state", "size", "content_type", "created_at")
    list_filter = ("state", "content_type")
    search_fields = ("name", "owner__email", "owner__username", "sha256")
    list_select_related = ("owner",)
    date_hierarchy = "created_at"
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

    def delete_model(self, request: HttpRequest, obj: File) -> None:
        # Through the service: storage forgets the bytes and the owner's quota is released.
        file_delete(file=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[File]) -> None:
        for file in queryset:
            file_delete(file=file)


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("step", "file", "state", "attempts", "started_at", "finished_at")
    list_filter = ("state", "step")
    search_fields = ("file__name", "file__sha256", "id")
    list_select_related = ("file",)
    readonly_fields = (
        "id",
        "file",
        "step",
        "position",
        "state",
        "attempts",
        "error",
        "last_sequence",
        "started_at",
        "finished_at",
        "created_at",
        "updated_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Jobs come from storage's dispatch; there is nothing to add by hand.
        return False
