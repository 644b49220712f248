"""The prosumer dashboard's pages. Each view parses its input, calls one service or selector, and renders.

Ownership: every view reads the logged-in user's participant (`participant_required`) and passes it to the
selectors and services, which filter by it; an id or serial in the URL is looked up among that participant's own
rows only, so another user's order or meter is a 404, never a page. Partial views answer htmx requests with
fragments of the same templates the full pages include.
"""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_POST

from dashboard import selectors, services
from dashboard.forms import MeterForm, OrderForm, SignUpForm, add_service_error
from ledger.errors import GridTokenXError
from ledger.token_program import GXT_DECIMALS, THB_DECIMALS
from ledger.units import format_units
from registry import services as registry_services
from registry.models import Participant, Zone
from trading import services as trading_services
from trading.models import Order

LOGIN_URL = reverse_lazy("dashboard-login")
TRADES_PER_PAGE = 50


def participant_required(view):
    """Logged in, and as a market participant: a login without a wallet (an operator made with createsuperuser)
    gets a page that says so."""

    @login_required(login_url=LOGIN_URL)
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        participant = Participant.objects.filter(user=request.user).select_related("user").first()
        if participant is None:
            return render(request, "dashboard/no_account.html", status=403)
        request.participant = participant
        return view(request, *args, **kwargs)

    return wrapped


def _htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


# -- sign-up --------------------------------------------------------------------------------------------------

def signup(request: HttpRequest) -> HttpResponse:
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            participant = registry_services.user_register(username=d["username"], password=d["password1"],
                                                          role=d["role"], email=d["email"])
        except GridTokenXError as exc:
            add_service_error(form, exc)
        else:
            login(request, participant.user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome, {participant.user.username}: your wallet {participant.wallet} "
                                      "is on the ledger. Register a meter to start earning GXT.")
            return redirect("dashboard-home")
    return render(request, "dashboard/signup.html", {"form": form})


# -- home -----------------------------------------------------------------------------------------------------

@participant_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/home.html", {"o": selectors.overview(request.participant)})


@participant_required
@require_GET
def balances(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/_balances.html", {"o": selectors.wallet_summary(request.participant)})


# -- meters ---------------------------------------------------------------------------------------------------

@participant_required
def meters(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/meters.html", {"meters": selectors.meters_of(request.participant)})


@participant_required
def meter_add(request: HttpRequest) -> HttpResponse:
    form = MeterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        zone: Zone = d["zone"]
        try:
            meter, generated = services.meter_add(
                owner=request.participant, serial=d["serial"], type=d["type"], zone_code=zone.code,
                latitude=float(zone.center_lat if d["latitude"] is None else d["latitude"]),
                longitude=float(zone.center_lon if d["longitude"] is None else d["longitude"]),
                capacity_w=d["capacity_w"], max_import_w=d["max_import_w"], public_key=d["public_key"].strip())
        except GridTokenXError as exc:
            add_service_error(form, exc)
        else:
            if generated is None:
                messages.success(request, f"Meter {meter.serial} is registered on the ledger.")
                return redirect("dashboard-meters")
            response = render(request, "dashboard/meter_added.html", {"meter": meter, "seed": generated.seed.hex()})
            add_never_cache_headers(response)  # the seed is shown once: no cache may keep the page
            return response
    return render(request, "dashboard/meter_add.html", {"form": form})


@participant_required
@require_GET
def meter_series(request: HttpRequest, serial: str) -> JsonResponse:
    meter = selectors.meter_of(request.participant, serial)
    if meter is None:
        return JsonResponse({"error": f"no meter {serial!r} of yours"}, status=404)
    span = request.GET.get("span", "day")
    if span not in selectors.RANGES:
        return JsonResponse({"error": f"span must be one of {', '.join(selectors.RANGES)}"}, status=400)
    return JsonResponse(selectors.meter_series(meter, span=span))


# -- market ---------------------------------------------------------------------------------------------------

def _zone_of(request: HttpRequest) -> Zone | None:
    zones = Zone.objects.all()
    return zones.filter(code=request.GET.get("zone", "")).first() or zones.first()


def _order_panel(request: HttpRequest, form: OrderForm, placed: Order | None = None) -> HttpResponse:
    response = render(request, "dashboard/_order_form.html", {"form": form, "placed": placed, "partial": True,
                                                               "paused": trading_services.market_paused()})
    if placed is not None:
        response["HX-Trigger"] = "orders-changed"
    return response


def _new_order_form(zone: Zone | None, **initial) -> OrderForm:
    return OrderForm(initial={"nonce": OrderForm.new_nonce(), "zone": zone.code if zone else None, "side": "sell",
                              "tif": "gtc", "life": 60, **initial})


def _market_page(request: HttpRequest, zone: Zone | None, form: OrderForm) -> HttpResponse:
    me = request.participant
    return render(request, "dashboard/market.html", {
        "zone": zone, "zones": Zone.objects.all(), "form": form, "paused": trading_services.market_paused(),
        "orders": selectors.open_orders(me)[:100], "fills": selectors.with_roles(me, selectors.trades_of(me)[:10]),
        "tape": selectors.market_tape(zone.code if zone else None), "o": selectors.wallet_summary(me)})


@participant_required
@require_GET
def market(request: HttpRequest) -> HttpResponse:
    zone = _zone_of(request)
    return _market_page(request, zone, _new_order_form(zone))


@participant_required
@require_POST
def order_place(request: HttpRequest) -> HttpResponse:
    form = OrderForm(request.POST)
    placed = None
    if form.is_valid():
        try:
            placed, created = services.order_submit(participant=request.participant, **form.order_kwargs())
        except GridTokenXError as exc:
            add_service_error(form, exc)
        else:
            if not created:
                messages.info(request, f"This form was sent before: it placed order {placed.pk}.")
            form = _new_order_form(placed.zone, side=placed.side)
    if not _htmx(request):
        if placed is not None:
            messages.success(request, f"Order {placed.pk} placed: {placed.status}.")
            return redirect(f"{reverse('dashboard-market')}?zone={placed.zone.code}")
        return _market_page(request, form.cleaned_data.get("zone") or _zone_of(request), form)
    return _order_panel(request, form, placed)


@participant_required
@require_POST
def quote(request: HttpRequest) -> HttpResponse:
    form = OrderForm(request.POST)
    context = {"form": form}
    if form.is_valid():
        try:
            context["q"] = trading_services.quote(participant=request.participant, **form.quote_kwargs())
        except GridTokenXError as exc:
            context["refused"] = exc.message
        else:
            q, d = context["q"], form.cleaned_data
            context["unmatched"] = d["quantity"] - q["total"]["quantity"]
            context["side"] = d["side"]
            effective = q["total"]["effective"]
            if d["side"] == "buy" and effective:
                # THB base units per kWh delivered, rounded up: what the buyer's limit is compared with.
                context["landed"] = -(-q["total"]["buyer_pays"] * 10**9 // effective)
    return render(request, "dashboard/_quote.html", context)


@participant_required
@require_GET
def open_orders(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/_open_orders.html",
                  {"orders": selectors.open_orders(request.participant)[:100], "partial": True})


@participant_required
@require_POST
def order_cancel(request: HttpRequest, order_id: int) -> HttpResponse:
    order = Order.objects.filter(pk=order_id, owner=request.participant).first()
    if order is None:
        raise Http404("no such order of yours")
    try:
        order = trading_services.order_cancel(order=order, by=request.participant)
    except GridTokenXError as exc:
        messages.error(request, f"Order {order_id} was not cancelled: {exc.message}")
    else:
        messages.success(request, f"Order {order.pk} cancelled; {_refund_text(order)} back to your wallet.")
    if _htmx(request):
        response = render(request, "dashboard/_open_orders.html",
                          {"orders": selectors.open_orders(request.participant)[:100], "partial": True})
        response["HX-Trigger"] = "orders-changed"
        return response
    return redirect(f"{reverse('dashboard-market')}?zone={order.zone.code}")


def _refund_text(order: Order) -> str:
    if order.side == "buy":
        return f"{format_units(order.refunded, THB_DECIMALS)} THB"
    return f"{format_units(order.refunded, GXT_DECIMALS)} kWh of GXT"


# -- history --------------------------------------------------------------------------------------------------

@participant_required
@require_GET
def history(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.trades_of(request.participant), TRADES_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "dashboard/history.html",
                  {"page": page, "trades": selectors.with_roles(request.participant, page.object_list)})
