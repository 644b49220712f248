"""The operator portal's registry pages. What the ledger owns is read-only here: statuses change only through
the actions, which sign a ledger transaction first (registry.services), so nothing is edited around the ledger."""

from django.contrib import admin, messages

from ledger.errors import GridTokenXError
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
class ZoneAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "center_lat", "center_lon", "address")
    search_fields = ("code", "name")
    readonly_fields = [f.name for f in Zone._meta.fields]

    def has_add_permission(self, request):  # zones are created on the ledger, through the API
        return False


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    list_display = ("user", "role", "status", "wallet", "created_at")
    list_filter = ("role", "status")
    search_fields = ("user__username", "wallet")
    readonly_fields = ("user", "role", "status", "wallet", "ledger_signature", "created_at")
    exclude = ("wallet_secret",)
    actions = ("suspend", "reinstate")

    def has_add_permission(self, request):
        return False

    @admin.action(description="Suspend the selected users (on the ledger)")
    def suspend(self, request, queryset):
        _each(self, request, queryset, lambda p: services.user_set_status(participant=p, status="suspended"), "suspended")

    @admin.action(description="Reinstate the selected users (on the ledger)")
    def reinstate(self, request, queryset):
        _each(self, request, queryset, lambda p: services.user_set_status(participant=p, status="active"), "reinstated")


@admin.register(Meter)
class MeterAdmin(admin.ModelAdmin):
    list_display = ("serial", "owner", "type", "zone", "status", "capacity_w", "last_end")
    list_filter = ("type", "status", "zone")
    search_fields = ("serial", "public_key", "owner__user__username")
    readonly_fields = [f.name for f in Meter._meta.fields if f.name != "public_key_bytes"]
    exclude = ("public_key_bytes",)
    actions = ("to_active", "to_maintenance", "deactivate")

    def has_add_permission(self, request):
        return False

    @admin.action(description="Set the selected meters active (on the ledger)")
    def to_active(self, request, queryset):
        _each(self, request, queryset, lambda m: services.meter_set_status(meter=m, status="active"), "active")

    @admin.action(description="Put the selected meters in maintenance (on the ledger)")
    def to_maintenance(self, request, queryset):
        _each(self, request, queryset, lambda m: services.meter_set_status(meter=m, status="maintenance"), "maintenance")

    @admin.action(description="Deactivate the selected meters for good (on the ledger)")
    def deactivate(self, request, queryset):
        _each(self, request, queryset, lambda m: services.meter_set_status(meter=m, status="deactivated"), "deactivated")
