"""Links into the explorer, for the operator portal's pages and the explorer's own templates."""

from django.urls import reverse
from django.utils.html import format_html


def tx_link(signature: str, text: str | None = None) -> str:
    """A transaction's explorer page, shown by its signature's first characters; empty for no signature."""
    if not signature:
        return "—"
    return format_html('<a href="{}"><code>{}</code></a>', reverse("explorer-tx", args=[signature]),
                       text or f"{signature[:16]}…")


def address_link(address: str, text: str | None = None) -> str:
    if not address:
        return "—"
    return format_html('<a href="{}"><code>{}</code></a>', reverse("explorer-address", args=[address]),
                       text or f"{address[:16]}…")
