"""The operator portal's registry pages. What the ledger owns is read-only here: statuses change only through
the actions, which sign a ledger transaction first (registry.services), so nothing is edited around the ledger."""

from django.contrib import admin, messages

from ledger.errors import GridTokenXError
from portal.admin_base import LedgerMirrorAdmin, address_column, tx_column
from portal.selectors import tariff_matrix
from registry import services
from registry.models import Meter, Participant, Zone


def _each(modeladmin, request, queryset, action, label):
    done = 0
    for obj in queryset:
        try:
            action(obj)
            done += 1
        except GridTokenXError as exc:
            modeladmin.message_user(request, f"{obj}: {exc.message}", messages.ERROR)
    if done:
        modeladmin.message_user(request, f"{label}: {done} done, each recorded on the ledger", messages.SUCCESS)


@admin.register(Zone)
class ZoneAdmin(LedgerMirrorAdmin):
    list_display = ("code", "name", "center_lat", "center_lon", address_column("address", "ledger account"))
    search_fields = ("code", "name", "address")
    readonly_fields = [f.name for f in Zone._meta.fields] + [tx_column("ledger_signature", "registration transaction")]

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {**(extra_context or {}), "tariffs": tariff_matrix()})


@admin.register(Participant)
class ParticipantAdmin(LedgerMirrorAdmin):
    list_display = ("user", "role", "status", address_column("wallet", "wallet"), "created_at")
    list_filter = ("role", "status")
    search_fields = ("user__username", "user__email", "wallet")
    list_select_related = ("user",)
    readonly_fields = ("user", "role", "status", address_column("wallet", "wallet"),
                       tx_column("ledger_signature", "registration transaction"), "created_at")
    exclude = ("wallet_secret", "wallet", "ledger_signature")
    actions = ("suspend", "reinstate")

    @admin.action(description="Suspend the selected users (on the ledger)")
    def suspend(self, request, queryset):
        _each(self, request, queryset, lambda p: services.user_set_status(participant=p, status="suspended"), "suspended")

    @admin.action(description="Reinstate the selected users (on the ledger)")
    def reinstate(self, request, queryset):
        _each(self, request, queryset, lambda p: services.user_set_status(participant=p, status="active"), "reinstated")


@admin.register(Meter)
class MeterAdmin(LedgerMirrorAdmin):
    list_display = ("serial", "owner", "type", "zone", "status", "capacity_w", "last_end")
    list_filter = ("type", "status", "zone")
    search_fields = ("serial", "public_key", "address", "owner__user__username")
    list_select_related = ("owner__user", "zone")
    readonly_fields = [f.name for f in Meter._meta.fields if f.name != "public_key_bytes"]
    exclude = ("public_key_bytes",)
    actions = ("to_active", "to_maintenance", "deactivate")

    @admin.action(description="Set the selected meters active (on the ledger)")
    def to_active(self, request, queryset):
        _each(self, request, queryset, lambda m: services.meter_set_status(meter=m, status="active"), "active")

    @admin.action(description="Put the selected meters in maintenance (on the ledger)")
    def to_maintenance(self, request, queryset):
        _each(self, request, queryset, lambda m: services.meter_set_status(meter=m, status="maintenance"), "maintenance")

    @admin.action(description="Deactivate the selected meters for good (on the ledger)")
    def deactivate(self, request, queryset):
        _each(self, request, queryset, lambda m: services.meter_set_status(meter=m, status="deactivated"), "deactivated")
