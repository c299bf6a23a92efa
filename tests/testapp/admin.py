from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.contrib.contenttypes.admin import GenericTabularInline
from import_export.admin import ImportExportModelAdmin

from live_admin.admin import LiveAdminMixin

from .models import (
    Attachment,
    Blob,
    Document,
    Note,
    Order,
    OrderLine,
    PartlyTracked,
    Project,
    Secret,
    Tag,
    Ticket,
    UrgentTicket,
    Widget,
)


class AttachmentInline(GenericTabularInline):
    model = Attachment


@admin.register(Project)
class ProjectAdmin(LiveAdminMixin, admin.ModelAdmin):
    list_display = ["name", "owner"]
    inlines = [AttachmentInline]


@admin.register(Ticket)
class TicketAdmin(LiveAdminMixin, admin.ModelAdmin):
    """Row-filtered: staff without the superuser flag see only the tickets of their projects."""

    list_display = ["title", "status", "project"]
    live_fields = ("title", "status", "project", "tags")
    live_group_by = ("project",)
    live_badges = False  # its rows are filtered per user; a badge would count them all

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(project__owner=request.user)

    def has_live_group_permission(self, request, field, value):
        if request.user.is_superuser:
            return True
        return Project.objects.filter(pk=value, owner=request.user).exists()


if getattr(settings, "THEME", None) == "unfold":  # its pages are made by its own ModelAdmin
    from unfold.admin import ModelAdmin as ThemedModelAdmin
    from unfold.admin import TabularInline as ThemedTabularInline
else:
    ThemedModelAdmin, ThemedTabularInline = admin.ModelAdmin, admin.TabularInline


class OrderLineInline(ThemedTabularInline):
    model = OrderLine


@admin.register(Order)
class OrderAdmin(LiveAdminMixin, ThemedModelAdmin):
    change_list_template = "testapp/order_change_list.html"  # the admin's own template stays
    list_display = ["customer", "status"]
    list_editable = ["status"]
    list_filter = ["status"]
    search_fields = ["customer"]
    inlines = [OrderLineInline]
    live_group_by = ("status",)
    actions = ["mark_shipped"]

    @admin.action(description="Mark shipped")
    def mark_shipped(self, request, queryset):
        for order in queryset:
            order.status = "shipped"
            order.save()


@admin.register(Document)
class DocumentAdmin(LiveAdminMixin, admin.ModelAdmin):
    """Object-level permission: private documents are for superusers."""

    live_group_by = ("shelf",)

    def has_view_permission(self, request, obj=None):
        if obj is not None and obj.title.startswith("private") and not request.user.is_superuser:
            return False
        return super().has_view_permission(request, obj)


@admin.register(Note)
class NoteAdmin(LiveAdminMixin, ImportExportModelAdmin):
    """Another package's admin mixin, after ours."""


@admin.register(PartlyTracked)
class PartlyTrackedAdmin(LiveAdminMixin, admin.ModelAdmin):
    pass


@admin.register(UrgentTicket)
class UrgentTicketAdmin(LiveAdminMixin, admin.ModelAdmin):
    pass


@admin.register(Blob)
class BlobAdmin(LiveAdminMixin, admin.ModelAdmin):
    list_display = ["pk", "order_number"]


admin.site.register(Tag)
admin.site.register(Secret)


@admin.register(Widget)
class WidgetAdmin(admin.ModelAdmin):
    """Not live in code: the test settings' LIVE_ADMIN["MODELS"] make it live."""

    list_display = ["name", "stock", "counted_at"]
    list_editable = ["stock"]
    search_fields = ["name"]
    #: The site name of each instance built (settings make the one built live, not another).
    built: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.built.append(self.admin_site.name)


#: A second site registering Project again: observers must still connect once.
other_site = admin.AdminSite(name="other")


@admin.register(Project, site=other_site)
class OtherProjectAdmin(LiveAdminMixin, admin.ModelAdmin):
    live_fields = ("name",)


@admin.register(Note, site=other_site)
class OtherNoteAdmin(LiveAdminMixin, ImportExportModelAdmin):
    list_display = ["text", "pinned"]


@admin.register(Order, site=other_site)
class OtherOrderAdmin(LiveAdminMixin, admin.ModelAdmin):
    """Two editable columns, for merges of disjoint list edits."""

    list_display = ["customer", "status", "priority"]
    list_editable = ["status", "priority"]
    inlines = [OrderLineInline]


@admin.register(User, site=other_site)
class LiveUserAdmin(LiveAdminMixin, UserAdmin):
    """A live user admin: logins must still set last_login."""
