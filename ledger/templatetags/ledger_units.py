from django import template

from ledger.units import format_units

register = template.Library()


@register.filter
def units(amount, decimals):
    return format_units(int(amount), int(decimals))
