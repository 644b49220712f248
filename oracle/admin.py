"""The operator portal's oracle pages: readings, rejections with their reasons, and settlements, all read-only;
one action triggers settlement now."""

from django.contrib import admin, messages
from django.db.models import F

from oracle import services
from oracle.models import Reading, RejectedReading, Settlement
from ledger.token_program import GXT_DECIMALS
from portal.admin_base import ActionsOnlyAdmin, ReadOnlyAdmin as ReadOnly, amount, tx_column


@admin.register(Reading)
class ReadingAdmin(ReadOnly):
    list_display = ("id", "meter", "interval_start", "generated_wh", "consumed_wh", "status",
                    tx_column("settlement_signature", "settlement transaction"), "received_at")
    list_filter = ("status", "meter__zone", "meter__type")
    search_fields = ("meter__serial", "settlement__signature")
    list_select_related = ("meter", "settlement")
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(settlement_signature=F("settlement__signature"))


@admin.register(RejectedReading)
class RejectedReadingAdmin(ReadOnly):
    list_display = ("received_at", "meter", "meter_key", "interval_start", "code", "message")
    list_filter = ("code",)
    search_fields = ("meter__serial", "meter_key")
    list_select_related = ("meter",)
    show_full_result_count = False


@admin.register(Settlement)
class SettlementAdmin(ActionsOnlyAdmin):
    list_display = (tx_column("signature", "transaction"), "status", "block_height", "readings_count", "meters_count",
                    amount("minted", GXT_DECIMALS, "minted (GXT)"), amount("burned", GXT_DECIMALS, "burned (GXT)"),
                    amount("grid_import", GXT_DECIMALS, "grid import (GXT)"), "created_at")
    list_filter = ("status",)
    search_fields = ("signature",)
    exclude = ("wire",)
    actions = ("settle_now",)
    @admin.action(description="Settle all pending readings now (the selection does not matter)")
    def settle_now(self, request, queryset):
        report = services.settle()
        level = messages.ERROR if report.failed or report.busy else messages.SUCCESS
        self.message_user(request, f"settlement: {report.as_dict()}", level)
