from datetime import UTC, datetime

from django import template

register = template.Library()


@register.filter
def ms_time(timestamp_ms):
    """Unix milliseconds as a UTC date and time."""
    return datetime.fromtimestamp(int(timestamp_ms) / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@register.filter
def s_time(timestamp_s):
    """Unix seconds as a UTC date and time."""
    return datetime.fromtimestamp(int(timestamp_s), tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
