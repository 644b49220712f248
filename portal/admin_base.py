"""Base classes for the admin pages of tables that mirror the ledger: nothing the ledger owns is added, edited
or deleted around it. Changes go through the actions, which sign a ledger transaction first."""

from django.contrib import admin

from explorer.links import address_link, tx_link
from ledger.units import format_units


class LedgerMirrorAdmin(admin.ModelAdmin):
    """Rows written after their ledger transaction commits: no adding or deleting here; pages that allow a
    change list only read-only fields, and actions do the changing."""

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(LedgerMirrorAdmin):
    """Rows that only the platform writes: listed and shown, never changed."""

    def has_change_permission(self, request, obj=None):
        return False


class ActionsOnlyAdmin(ReadOnlyAdmin):
    """Read-only rows whose changelist runs actions (the admin runs actions only with the change permission)."""

    def has_change_permission(self, request, obj=None):
        return obj is None and request.user.is_staff


def amount(field: str, decimals: int, description: str):
    """A list or detail column showing the integer `field` in display units (ledger.units)."""

    @admin.display(description=description, ordering=field)
    def show(obj):
        return format_units(getattr(obj, field), decimals)

    return show


def tx_column(field: str, description: str):
    """A column linking the transaction signature in `field` (base58 text) to its explorer page."""

    @admin.display(description=description, ordering=field)
    def show(obj):
        return tx_link(getattr(obj, field))

    return show


def address_column(field: str, description: str):
    """A column linking the address in `field` (base58 text) to its explorer page, in full."""

    @admin.display(description=description, ordering=field)
    def show(obj):
        value = getattr(obj, field)
        return address_link(value, value)

    return show
