from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from webapp.accounts.models import ApiToken, Usage, User

admin.site.register(User, UserAdmin)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are listed and revoked here; keys are never shown (only their hash exists)."""

    list_display = (
        "name",
        "user",
        "prefix",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix", "user__username", "user__email")
    fields = ("user", "name", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at")
    readonly_fields = ("user", "name", "prefix", "created_at", "last_used_at")
    list_select_related = ("user",)

    def has_add_permission(self, request: object) -> bool:
        # Adding here could not show the key; tokens come from `create_api_token`.
        return False


@admin.register(Usage)
class UsageAdmin(admin.ModelAdmin):
    """What each user's files take; kept by the upload services, so read-only here."""

    list_display = ("user", "bytes_used", "files_used", "updated_at")
    search_fields = ("user__username", "user__email")
    list_select_related = ("user",)
    readonly_fields = ("user", "bytes_used", "files_used", "updated_at")

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object | None = None) -> bool:
        return False
