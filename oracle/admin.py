"""The operator portal's oracle pages: readings, rejections with their reasons, and settlements, all read-only;
one action triggers settlement now."""

from django.contrib import admin, messages

from oracle import services
from oracle.models import Reading, RejectedReading, Settlement


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Reading)
class ReadingAdmin(ReadOnly):
    list_display = ("meter", "interval_start", "generated_wh", "consumed_wh", "status", "settlement", "received_at")
    list_filter = ("status",)
    search_fields = ("meter__serial",)
    list_select_related = ("meter", "settlement")
    show_full_result_count = False


@admin.register(RejectedReading)
class RejectedReadingAdmin(ReadOnly):
    list_display = ("received_at", "meter", "meter_key", "interval_start", "code", "message")
    list_filter = ("code",)
    search_fields = ("meter__serial", "meter_key")
    list_select_related = ("meter",)
    show_full_result_count = False


@admin.register(Settlement)
class SettlementAdmin(ReadOnly):
    list_display = ("signature", "status", "block_height", "readings_count", "meters_count", "minted", "burned",
                    "grid_import", "created_at")
    list_filter = ("status",)
    search_fields = ("signature",)
    exclude = ("wire",)
    actions = ("settle_now",)

    def has_change_permission(self, request, obj=None):
        return obj is None and request.user.is_staff  # lets the changelist run its action

    @admin.action(description="Settle all pending readings now (the selection does not matter)")
    def settle_now(self, request, queryset):
        report = services.settle()
        level = messages.ERROR if report.failed or report.busy else messages.SUCCESS
        self.message_user(request, f"settlement: {report.as_dict()}", level)
