"""The operator portal's own pages inside the admin: revenue analytics and system monitoring, and the operator's
switches on the monitoring page (pause or resume the market, settle pending readings now). Staff only: every
view is wrapped in `admin.site.admin_view` (portal.urls)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from ledger.errors import GridTokenXError
from ledger.present import ui_amount_string
from ledger.token_program import GXT_DECIMALS, THB_DECIMALS
from oracle import services as oracle_services
from portal import selectors
from trading import services as trading_services

_THB_AMOUNTS = ("fee", "wheeling", "loss_value", "value")


def _chart_row(row: dict, label: str) -> dict:
    """A row of `selectors.revenue` as exact decimal strings for the charts (no float touches an amount)."""
    out = {"label": label, **{k: ui_amount_string(row[k], THB_DECIMALS) for k in _THB_AMOUNTS}}
    out["quantity"] = ui_amount_string(row["quantity"], GXT_DECIMALS)
    out["loss"] = ui_amount_string(row["loss"], GXT_DECIMALS)
    out["average_price"] = ui_amount_string(row["average_price"] or 0, THB_DECIMALS)
    return out


def analytics(request):
    report = selectors.revenue()
    charts = {
        "days": [_chart_row(r, r["day"].isoformat()) for r in report["days"]],
        "zones": [_chart_row(r, r["buyer_zone__code"]) for r in report["zones"]],
        "flows": [_chart_row(report["intra"], "intra-zone"), _chart_row(report["inter"], "inter-zone")],
    }
    return TemplateResponse(request, "admin/portal/analytics.html", {
        **admin.site.each_context(request), "title": "Revenue analytics", "report": report, "charts": charts})


def monitoring(request):
    return TemplateResponse(request, "admin/portal/monitoring.html", {
        **admin.site.each_context(request), "title": "System monitoring", "m": selectors.monitoring()})


@require_POST
def market_pause(request):
    paused = request.POST.get("paused")
    if paused not in ("true", "false"):
        messages.error(request, "Say whether to pause (paused=true) or resume (paused=false) the market.")
        return redirect("portal-monitoring")
    try:
        trading_services.market_set_paused(paused=paused == "true")
    except GridTokenXError as exc:
        messages.error(request, f"The market's state did not change: {exc.message}")
    else:
        messages.success(request, "The market is paused: new orders are refused." if paused == "true"
                         else "The market is open again.")
    return redirect("portal-monitoring")


@require_POST
def settle_now(request):
    report = oracle_services.settle()
    if report.busy:
        messages.warning(request, "Another settlement run is in progress; its readings are being settled now.")
    elif report.failed or report.errors:
        messages.error(request, f"Settlement: {report.failed} failed; {'; '.join(report.errors[:3])}")
    else:
        messages.success(request, f"Settled {report.readings} readings in {report.committed} ledger transactions.")
    return redirect("portal-monitoring")
