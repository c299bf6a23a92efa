from django.contrib import admin

from live_admin.admin import LiveAdminMixin

from .models import Project, Ticket


@admin.register(Project)
class ProjectAdmin(LiveAdminMixin, admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]


@admin.register(Ticket)
class TicketAdmin(LiveAdminMixin, admin.ModelAdmin):
    list_display = ["title", "project", "status", "assignee"]
    list_editable = ["status"]
    list_filter = ["status", "project"]
    search_fields = ["title"]
    live_group_by = ("project",)
    actions = ["mark_done"]

    @admin.action(description="Mark selected tickets done")
    def mark_done(self, request, queryset):
        for ticket in queryset:
            ticket.status = "done"
            ticket.save()
