"""The operator portal's market pages: orders, trades and escrow movements, all read-only (the trading program
on the ledger owns them; `trading.services` writes these rows after each ledger transaction commits). Pausing
and resuming the market is on the monitoring page (portal.views)."""

from django.contrib import admin

from ledger.token_program import GXT_DECIMALS, THB_DECIMALS
from portal.admin_base import ReadOnlyAdmin, amount, tx_column
from trading.models import EscrowRecord, Order, Trade


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ("id", "owner", "side", "kind", "tif", "zone", "cross_zone",
                    amount("quantity", GXT_DECIMALS, "quantity (kWh)"), amount("remaining", GXT_DECIMALS, "remaining (kWh)"),
                    amount("price", THB_DECIMALS, "price (THB/kWh)"), "status", "reason", "created_at")
    list_filter = ("status", "side", "kind", "tif", "cross_zone", "zone")
    search_fields = ("=id", "owner__user__username", "owner__wallet", "ledger_signature", "signature")
    list_select_related = ("owner__user", "zone")
    readonly_fields = (tx_column("ledger_signature", "placement transaction"),)
    exclude = ("digest",)
    show_full_result_count = False


@admin.register(Trade)
class TradeAdmin(ReadOnlyAdmin):
    list_display = ("id", "seller_zone", "buyer_zone", amount("quantity", GXT_DECIMALS, "sent (kWh)"),
                    amount("effective", GXT_DECIMALS, "delivered (kWh)"), amount("price", THB_DECIMALS, "price (THB/kWh)"),
                    amount("value", THB_DECIMALS, "value (THB)"), amount("fee", THB_DECIMALS, "fee (THB)"),
                    amount("wheeling", THB_DECIMALS, "wheeling (THB)"), amount("loss_value", THB_DECIMALS, "losses (THB)"),
                    tx_column("ledger_signature", "settlement transaction"), "created_at")
    list_filter = ("buyer_zone", "seller_zone")
    search_fields = ("=id", "ledger_signature", "buy_order__owner__user__username", "sell_order__owner__user__username")
    list_select_related = ("buyer_zone", "seller_zone")
    readonly_fields = (tx_column("ledger_signature", "settlement transaction"),)
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(EscrowRecord)
class EscrowRecordAdmin(ReadOnlyAdmin):
    list_display = ("id", "order_id", "kind", "token", "shown_amount", "trade_id",
                    tx_column("ledger_signature", "transaction"), "created_at")
    list_filter = ("kind", "token")
    search_fields = ("=order__id", "ledger_signature", "order__owner__user__username")
    show_full_result_count = False

    @admin.display(description="amount", ordering="amount")
    def shown_amount(self, obj):
        return amount("amount", GXT_DECIMALS if obj.token == "GXT" else THB_DECIMALS, "")(obj)
