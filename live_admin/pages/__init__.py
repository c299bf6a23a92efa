"""The admin's HTTP side: the ModelAdmin mixin, row refreshes, themes, index pages and
settings-made admins."""
