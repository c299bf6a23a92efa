from django.contrib import admin

from live_admin import LiveAdminMixin

from .models import Item, Plain


@admin.register(Item)
class ItemAdmin(LiveAdminMixin, admin.ModelAdmin):
    list_display = ("name", "n")
    list_per_page = 100


@admin.register(Plain)
class PlainAdmin(admin.ModelAdmin):
    list_display = ("name", "n")
    list_per_page = 100
