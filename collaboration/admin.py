from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from medilytica_site.services import username_lookalike_exists

from .models import AuditEvent, ChatMessage, Membership, Room, User, Workspace

LOOKALIKE = "A user with that username, or one that looks the same, already exists."


def refuse_lookalike(username: str | None, user) -> None:
    """The database refuses a username that reads like another (NFKC, case folded): say
    so on the admin's form instead of failing the save with a 500."""
    if username and username_lookalike_exists(username=username, exclude_user=user):
        raise forms.ValidationError(LOOKALIKE, code="unique")


class UserAddForm(AdminUserCreationForm):
    def clean_username(self):
        username = super().clean_username()
        refuse_lookalike(username, None)
        return username


class UserEditForm(UserChangeForm):
    def clean_username(self):
        username = self.cleaned_data.get("username")
        refuse_lookalike(username, self.instance if self.instance.pk else None)
        return username


@admin.register(User)
class MediLyticaUserAdmin(UserAdmin):
    add_form = UserAddForm
    form = UserEditForm
    list_display = ["username", "email", "is_active", "is_staff", "date_joined", "last_login"]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ["name", "is_personal", "created_by", "created_at"]
    list_filter = ["is_personal"]
    search_fields = ["name", "description"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["workspace", "user", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["workspace__name", "user__username"]
    autocomplete_fields = ["user", "workspace"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit trail is append-only: readable here, never editable or deletable."""

    list_display = ["created_at", "username", "action", "object_type", "object_id", "outcome"]
    list_filter = ["action", "outcome", "object_type"]
    search_fields = ["username", "object_id", "action"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "created_by", "created_at"]
    search_fields = ["name", "workspace__name"]
    readonly_fields = ["last_message_seq", "presence_version"]


@admin.register(ChatMessage)
class ChatMessageAdmin(admin.ModelAdmin):
    """Messages are shown as plain text; what was said is not edited here."""

    list_display = ["created_at", "room", "seq", "user", "kind", "text"]
    list_filter = ["kind"]
    search_fields = ["text", "user__username", "room__name"]
    list_select_related = ["room__workspace", "user"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
