from django.conf import settings
from django.contrib import admin

from live_admin.admin import LiveAdminMixin

if settings.DEMO_THEME == "unfold":  # Unfold's pages are made by its own ModelAdmin
    from unfold.admin import ModelAdmin, TabularInline
else:
    from django.contrib.admin import ModelAdmin, TabularInline

from .models import Customer, Order, OrderLine, Project, Ticket


@admin.register(Customer)
class CustomerAdmin(LiveAdminMixin, ModelAdmin):
    list_display = ["name", "email"]
    list_filter = ["email"]
    search_fields = ["name", "email"]


class OrderLineInline(TabularInline):
    model = OrderLine
    extra = 0


@admin.register(Order)
class OrderAdmin(LiveAdminMixin, ModelAdmin):
    list_display = ["__str__", "customer", "status", "total"]
    list_editable = ["status"]
    list_filter = ["status"]
    search_fields = ["customer__name"]
    inlines = [OrderLineInline]
    live_group_by = ("status",)
    actions = ["mark_shipped"]

    @admin.action(description="Mark selected orders shipped", permissions=["change"])
    def mark_shipped(self, request, queryset):
        for order in queryset:
            order.status = "shipped"
            order.save()


@admin.register(Project)
class ProjectAdmin(LiveAdminMixin, ModelAdmin):
    list_display = ["name"]
    list_filter = ["name"]
    search_fields = ["name"]


@admin.register(Ticket)
class TicketAdmin(LiveAdminMixin, ModelAdmin):
    list_display = ["title", "project", "status", "assignee"]
    list_editable = ["status"]
    list_filter = ["status", "project"]
    search_fields = ["title"]
    live_group_by = ("project",)
    actions = ["mark_done"]

    @admin.action(description="Mark selected tickets done", permissions=["change"])
    def mark_done(self, request, queryset):
        for ticket in queryset:
            ticket.status = "done"
            ticket.save()
