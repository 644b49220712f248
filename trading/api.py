"""The exchange's REST API: signed orders, cancellation, the book, trades, fills (also as CSV), market statistics,
quotes, and the operator's pause switch. Orders are signed by the owner's wallet key (docs/PROTOCOL.md, "Orders")."""

from __future__ import annotations

import csv
import io

from django.db.models import Q, Sum
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ledger.api import _error, _valid
from ledger.errors import InvalidInput, NotFound
from registry.api import IsOperator, participant_of
from trading import desk, matcher, services
from trading.models import Order, Trade
from trading.serializers import OrderSerializer, TradeSerializer

PAGE = OpenApiParameter("limit", int, description="At most 500; default 100.")


def _limit(request: Request) -> int:
    try:
        return min(500, max(1, int(request.query_params.get("limit", 100))))
    except ValueError:
        return 100


class SignedOrderSerializer(serializers.Serializer):
    owner = serializers.CharField(help_text="Your wallet address (base58); the key that signs.")
    nonce = serializers.IntegerField(help_text="Yours to choose, unique per order; a retry with it is idempotent.")
    side = serializers.ChoiceField(choices=["buy", "sell"])
    kind = serializers.ChoiceField(choices=["limit", "market"], required=False, default="limit")
    tif = serializers.ChoiceField(choices=["gtc", "ioc", "fok"], required=False, default="gtc")
    cross_zone = serializers.BooleanField(required=False, default=False)
    zone = serializers.CharField()
    quantity = serializers.IntegerField(help_text="GXT base units (10^-9 kWh).")
    price = serializers.IntegerField(help_text="THB base units per kWh: a buy's landed-cost limit (or a market "
                                               "buy's cap), a sell's ask.")
    expires_at = serializers.IntegerField(required=False, default=0, help_text="Unix ms; 0 = default life (15 min).")
    signature = serializers.CharField(help_text="Ed25519 over the 89-byte order encoding, base58.")


class OrdersView(APIView):
    permission_classes = (permissions.IsAuthenticated,)

    @extend_schema(operation_id="trading_orders_create", tags=["trading"], summary="Place a signed order",
                   description="Verifies the signature first, then the market's rules, then locks the escrow on the "
                               "ledger and asks the matcher to run. The answer shows the order as placed; its fills "
                               "follow on `/ws/me/` and in GET /trading/orders/{id} (with TRADING_MATCHER=inline the "
                               "matcher has already run). 201 for a new order, 200 for a retry of one already placed.",
                   request=SignedOrderSerializer,
                   responses={201: OrderSerializer, 200: OrderSerializer, 400: _error("Malformed or badly signed."),
                              403: _error("Not signed with your wallet key."), 404: _error("Unknown zone."),
                              409: _error("The nonce names another order."),
                              422: _error("A market rule, the pause, or insufficient funds; `code` says which.")})
    def post(self, request: Request) -> Response:
        body = dict(_valid(SignedOrderSerializer(data=request.data)))
        order, created = services.order_place(participant=participant_of(request), body=body)
        if created:
            matcher.kick()
            if matcher.mode() == "inline":
                order.refresh_from_db()
        return _placed(order, created)

    @extend_schema(operation_id="trading_orders_list", tags=["trading"], summary="My orders, newest first",
                   parameters=[OpenApiParameter("status", str, enum=list(Order.Status.values)), PAGE],
                   responses={200: OrderSerializer(many=True)})
    def get(self, request: Request) -> Response:
        orders = Order.objects.filter(owner=participant_of(request)).select_related("zone", "owner__user")
        if request.query_params.get("status"):
            orders = orders.filter(status=request.query_params["status"])
        return Response(OrderSerializer(orders.order_by("-pk")[:_limit(request)], many=True).data)


class SignedOrderBatchSerializer(serializers.Serializer):
    orders = serializers.ListField(child=SignedOrderSerializer(), min_length=1, max_length=desk.MAX_BATCH_ORDERS,
                                   help_text=f"1 to {desk.MAX_BATCH_ORDERS} signed orders, each as for a single order.")


class OrdersBatchView(APIView):
    permission_classes = (permissions.IsAuthenticated,)

    @extend_schema(operation_id="trading_orders_batch", tags=["trading"], summary="Place several signed orders",
                   description=f"Up to {desk.MAX_BATCH_ORDERS} signed orders in one request, each placed exactly as "
                               "POST /trading/orders places one (its own signature check, rules, escrow lock and "
                               "ledger transaction): a refused order does not affect the others, and the batch is "
                               "not atomic. 200 with `results` in the order sent, each with the HTTP status that "
                               "order would have had alone (201 placed, 200 a retry, or the error's status) and the "
                               "order or the error. A body that is not a list of 1 to "
                               f"{desk.MAX_BATCH_ORDERS} orders is refused whole with 400, placing nothing.",
                   request=SignedOrderBatchSerializer,
                   responses={200: inline_serializer("OrderBatchResults", {"results": serializers.ListField(
                       child=inline_serializer("OrderBatchResult", {
                           "status": serializers.IntegerField(help_text="201, 200, or the error's HTTP status."),
                           "order": OrderSerializer(required=False),
                           "error": serializers.DictField(required=False, help_text="As every error: code, message."),
                       }))}), 400: _error(f"Not a list of 1 to {desk.MAX_BATCH_ORDERS} orders.")})
    def post(self, request: Request) -> Response:
        bodies = _valid(SignedOrderBatchSerializer(data=request.data))["orders"]
        participant = participant_of(request)
        outcomes = desk.place_placements([services.Placement(participant, dict(body)) for body in bodies])
        return Response(desk.batch_answer(outcomes))


def _placed(order: Order, created: bool) -> Response:
    return Response(OrderSerializer(order).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def _order_of(request: Request, order_id: int) -> Order:
    order = Order.objects.select_related("zone", "owner__user").filter(pk=order_id).first()
    if order is None or not (request.user.is_staff or order.owner.user_id == request.user.id):
        raise NotFound(f"no order {order_id} of yours")
    return order


class OrderDetailView(APIView):
    permission_classes = (permissions.IsAuthenticated,)

    @extend_schema(operation_id="trading_orders_retrieve", tags=["trading"], summary="One of my orders",
                   responses={200: OrderSerializer, 404: _error("Not yours or unknown.")})
    def get(self, request: Request, order_id: int) -> Response:
        return Response(OrderSerializer(_order_of(request, order_id)).data)


class OrderCancelView(APIView):
    permission_classes = (permissions.IsAuthenticated,)

    @extend_schema(operation_id="trading_orders_cancel", tags=["trading"],
                   summary="Cancel an open order (its owner or an operator); refunds the unfilled remainder once",
                   request=None, responses={200: OrderSerializer, 404: _error("Not yours."),
                                            422: _error("Not open any more.")})
    def post(self, request: Request, order_id: int) -> Response:
        order = _order_of(request, order_id)
        by = None if request.user.is_staff and order.owner.user_id != request.user.id else participant_of(request)
        return Response(OrderSerializer(services.order_cancel(order=order, by=by)).data)


class BookView(APIView):
    permission_classes = ()

    @extend_schema(operation_id="trading_book", tags=["trading"], summary="A zone's order book by price level",
                   responses={200: inline_serializer("Book", {
                       "zone": serializers.CharField(),
                       "bids": serializers.ListField(child=serializers.ListField(child=serializers.IntegerField())),
                       "asks": serializers.ListField(child=serializers.ListField(child=serializers.IntegerField()))}),
                       404: _error("Unknown zone.")})
    def get(self, request: Request, zone: str) -> Response:
        return Response(services.book(zone))


class TradesView(APIView):
    permission_classes = ()

    @extend_schema(operation_id="trading_trades", tags=["trading"], summary="Recent trades, newest first",
                   parameters=[OpenApiParameter("zone", str, description="Trades delivered into this zone."), PAGE],
                   responses={200: TradeSerializer(many=True)})
    def get(self, request: Request) -> Response:
        trades = Trade.objects.select_related("buyer_zone", "seller_zone")
        if request.query_params.get("zone"):
            trades = trades.filter(buyer_zone__code=request.query_params["zone"])
        return Response(TradeSerializer(trades[:_limit(request)], many=True).data)


CSV_FIELDS = ["id", "role", "created_at", "buyer_zone", "seller_zone", "quantity", "effective", "loss", "price", "value",
              "fee", "wheeling", "loss_value", "ledger_signature"]


class FillsView(APIView):
    permission_classes = (permissions.IsAuthenticated,)

    @extend_schema(operation_id="trading_fills", tags=["trading"],
                   summary="My trades (as buyer or seller), newest first; ?export=csv for a spreadsheet",
                   parameters=[OpenApiParameter("export", str, enum=["csv"], description="csv: every fill as a CSV file"), PAGE],
                   responses={200: OpenApiResponse(TradeSerializer(many=True), description="JSON, or text/csv")})
    def get(self, request: Request) -> Response | HttpResponse:
        me = participant_of(request)
        trades = (Trade.objects.filter(Q(buy_order__owner=me) | Q(sell_order__owner=me))
                  .select_related("buyer_zone", "seller_zone", "buy_order"))
        if request.query_params.get("export") == "csv":
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(CSV_FIELDS)
            for t in trades.iterator():
                row = TradeSerializer(t).data
                row["role"] = "buyer" if t.buy_order.owner_id == me.pk else "seller"
                writer.writerow([row[f] for f in CSV_FIELDS])
            response = HttpResponse(out.getvalue(), content_type="text/csv")
            response["Content-Disposition"] = 'attachment; filename="gridtokenx-trades.csv"'
            return response
        return Response(TradeSerializer(trades[:_limit(request)], many=True).data)


class StatsView(APIView):
    permission_classes = ()

    @extend_schema(operation_id="trading_stats", tags=["trading"],
                   summary="Per zone (where energy was delivered): last price, volume, VWAP; whether the market is paused",
                   responses={200: inline_serializer("MarketStats", {
                       "paused": serializers.BooleanField(),
                       "zones": serializers.DictField(child=serializers.DictField())})})
    def get(self, request: Request) -> Response:
        zones = {}
        for code in services.zone_indexes():
            trades = Trade.objects.filter(buyer_zone__code=code)
            agg = trades.aggregate(volume=Sum("quantity"), value=Sum("value"))
            last = trades.first()
            volume = agg["volume"] or 0
            zones[code] = {"last_price": last.price if last else None, "volume": volume, "trades": trades.count(),
                           "vwap": (agg["value"] or 0) * 10**9 // volume if volume else None}
        return Response({"paused": services.market_paused(), "zones": zones})


class QuoteSerializer(serializers.Serializer):
    side = serializers.ChoiceField(choices=["buy", "sell"])
    zone = serializers.CharField()
    quantity = serializers.IntegerField(min_value=1)
    price = serializers.IntegerField(min_value=1)
    cross_zone = serializers.BooleanField(required=False, default=False)


class QuoteView(APIView):
    permission_classes = ()

    @extend_schema(operation_id="trading_quote", tags=["trading"],
                   summary="The landed-cost breakdown of a prospective order against the book now (in an auction zone: "
                           "the round as it would clear now); changes nothing",
                   request=QuoteSerializer, responses={200: inline_serializer("QuoteBreakdown", {
                       "fills": serializers.ListField(child=serializers.DictField(child=serializers.CharField())),
                       "total": serializers.DictField(child=serializers.IntegerField()),
                       "fee_bps": serializers.IntegerField(), "escrow": serializers.IntegerField(),
                       "mechanism": serializers.ChoiceField(choices=["continuous", "auction"]),
                       "clearing_price": serializers.IntegerField(
                           required=False, allow_null=True,
                           help_text="Auction zones: the round's price if it closed now with this order; null if "
                                     "this order would not trade."),
                       "next_clearing": serializers.IntegerField(
                           required=False, help_text="Auction zones: when the next round closes (Unix ms).")}),
                       404: _error("Unknown zone."),
                                                       422: _error("A market rule.")})
    def post(self, request: Request) -> Response:
        b = _valid(QuoteSerializer(data=request.data))
        participant = getattr(request.user, "participant", None)
        return Response(services.quote(participant=participant, **b))


class PauseView(APIView):
    permission_classes = (IsOperator,)

    @extend_schema(operation_id="trading_pause", tags=["trading"],
                   summary="Pause or resume the market (operators): a paused market refuses new orders",
                   request=inline_serializer("Pause", {"paused": serializers.BooleanField()}),
                   responses={200: inline_serializer("PauseState", {"paused": serializers.BooleanField()})})
    def post(self, request: Request) -> Response:
        paused = request.data.get("paused") if isinstance(request.data, dict) else None
        if not isinstance(paused, bool):
            raise InvalidInput("'paused' must be true or false")
        return Response({"paused": services.market_set_paused(paused=paused)})
