"""Unix times as aware datetimes, so the dashboard's templates show every time in the platform's time zone with
Django's `date` filter (the charts' labels use the same zone)."""

from datetime import UTC, datetime

from django import template

register = template.Library()


@register.filter
def unix_s(seconds):
    return datetime.fromtimestamp(int(seconds), tz=UTC)


@register.filter
def unix_ms(milliseconds):
    return datetime.fromtimestamp(int(milliseconds) // 1000, tz=UTC)
