"""The oracle's REST API: signed readings in (one, or a batch from an aggregator), readings and settlement out.

Meters prove themselves by their signature over the reading (docs/PROTOCOL.md, "Meter readings"), so posting
readings needs no login. Reading lists are for the meter's owner and operators; the status is public.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ledger import selectors as ledger_selectors
from ledger.api import _error
from ledger.errors import Conflict, InvalidInput, Rejected
from oracle import program, services
from oracle.models import Reading, RejectedReading, Settlement
from registry.api import SERIAL, IsOperator, meter_for

MAX_BATCH = 1000


class ReadingInSerializer(serializers.Serializer):
    meter = serializers.CharField(help_text="The meter's public key, base58.")
    interval_start = serializers.IntegerField(help_text="Unix seconds (UTC), aligned to the interval.")
    interval_seconds = serializers.IntegerField()
    generated_wh = serializers.IntegerField()
    consumed_wh = serializers.IntegerField()
    sequence = serializers.IntegerField()
    voltage_mv = serializers.IntegerField(required=False)
    power_factor_ppm = serializers.IntegerField(required=False, help_text="1,000,000 = unity.")
    frequency_mhz = serializers.IntegerField(required=False)
    signature = serializers.CharField(help_text="Ed25519 by the meter's key over the 86-byte encoding, base58.")


class ResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["accepted", "duplicate", "rejected"])
    id = serializers.CharField(required=False, help_text="The reading's id: SHA-256 of its encoding, base58.")
    code = serializers.CharField(required=False, help_text="Why it was rejected (see the oracle rules).")
    message = serializers.CharField(required=False)


class BatchOutSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.IntegerField()
    results = ResultSerializer(many=True)


class ReadingSerializer(serializers.ModelSerializer):
    net_wh = serializers.IntegerField(read_only=True)
    settlement = serializers.CharField(source="settlement.signature", allow_null=True, default=None,
                                       help_text="The ledger transaction that minted or burned for it.")

    class Meta:
        model = Reading
        fields = ["interval_start", "interval_seconds", "generated_wh", "consumed_wh", "net_wh", "sequence",
                  "voltage_mv", "power_factor_ppm", "frequency_mhz", "status", "settlement", "received_at"]


class RejectionSerializer(serializers.ModelSerializer):
    class Meta:
        model = RejectedReading
        fields = ["interval_start", "code", "message", "received_at"]


class SettlementSerializer(serializers.ModelSerializer):
    class Meta:
        model = Settlement
        fields = ["signature", "status", "block_height", "readings_count", "meters_count", "minted", "burned",
                  "grid_import", "error", "created_at", "settled_at"]


class ReadingView(APIView):
    authentication_classes = ()
    permission_classes = ()

    @extend_schema(operation_id="oracle_readings_create", tags=["oracle"], summary="Submit one signed reading",
                   request=ReadingInSerializer,
                   responses={201: ResultSerializer, 200: ResultSerializer, 400: _error("Malformed reading."),
                              409: _error("A different reading for this interval was already accepted."),
                              422: _error("Rejected by an oracle rule; `code` names it.")})
    def post(self, request: Request) -> Response:
        result = services.readings_ingest([request.data]).results[0]
        if result.status == "accepted":
            return Response(result.as_dict(), status=status.HTTP_201_CREATED)
        if result.status == "duplicate":
            return Response(result.as_dict())
        if result.code == "conflict":
            raise Conflict(result.message, id=result.id)
        if result.code == "invalid_reading":
            raise InvalidInput(result.message)
        raise Rejected(result.code, result.message, id=result.id)


class BatchView(APIView):
    authentication_classes = ()
    permission_classes = ()

    @extend_schema(operation_id="oracle_readings_batch", tags=["oracle"],
                   summary="Submit up to 1,000 signed readings from many meters (an aggregator's path)",
                   description="Each reading is decided on its own: the answer lists every one's outcome. "
                               "Resubmitting a batch is safe: known readings answer `duplicate`.",
                   request=inline_serializer("ReadingBatch", {"readings": ReadingInSerializer(many=True)}),
                   responses={200: BatchOutSerializer, 400: _error("Not a list of at most 1,000 readings.")})
    def post(self, request: Request) -> Response:
        readings = request.data.get("readings") if isinstance(request.data, dict) else None
        if not isinstance(readings, list) or not 0 < len(readings) <= MAX_BATCH:
            raise InvalidInput(f"the body must be {{\"readings\": [...]}} with 1 to {MAX_BATCH} readings")
        report = services.readings_ingest(readings)
        return Response({"accepted": report.count("accepted"), "duplicates": report.count("duplicate"),
                         "rejected": report.count("rejected"), "results": [r.as_dict() for r in report.results]})


def _page(request: Request) -> tuple[int, int]:
    try:
        limit = min(1000, max(1, int(request.query_params.get("limit", 96))))
        offset = max(0, int(request.query_params.get("offset", 0)))
    except ValueError:
        raise InvalidInput("limit and offset must be integers") from None
    return limit, offset


PAGING = [OpenApiParameter("limit", int, description="At most 1,000; default 96 (a day of 15-minute readings)."),
          OpenApiParameter("offset", int)]


class MeterReadingsView(APIView):
    permission_classes = (permissions.IsAuthenticated,)

    @extend_schema(operation_id="oracle_meter_readings", tags=["oracle"], summary="A meter's accepted readings, newest first",
                   parameters=[SERIAL, *PAGING], responses={200: ReadingSerializer(many=True), 404: _error("Not yours.")})
    def get(self, request: Request, serial: str) -> Response:
        meter = meter_for(request, serial)
        limit, offset = _page(request)
        rows = meter.readings.select_related("settlement").order_by("-interval_start")[offset:offset + limit]
        return Response(ReadingSerializer(rows, many=True).data)


class MeterRejectionsView(APIView):
    permission_classes = (permissions.IsAuthenticated,)

    @extend_schema(operation_id="oracle_meter_rejections", tags=["oracle"], summary="A meter's rejected readings, newest first",
                   parameters=[SERIAL, *PAGING], responses={200: RejectionSerializer(many=True), 404: _error("Not yours.")})
    def get(self, request: Request, serial: str) -> Response:
        meter = meter_for(request, serial)
        limit, offset = _page(request)
        return Response(RejectionSerializer(meter.rejections.all()[offset:offset + limit], many=True).data)


class StatusView(APIView):
    permission_classes = ()

    @extend_schema(operation_id="oracle_status", tags=["oracle"], summary="Mint and burn status",
                   responses={200: inline_serializer("OracleStatus", {
                       "pending_readings": serializers.IntegerField(),
                       "settlements": serializers.DictField(child=serializers.IntegerField()),
                       "minted": serializers.CharField(), "burned": serializers.CharField(),
                       "grid_import": serializers.CharField(), "readings_settled": serializers.IntegerField(),
                       "gxt_supply": serializers.CharField(),
                       "latest": SettlementSerializer(many=True)})})
    def get(self, request: Request) -> Response:
        raw = ledger_selectors.raw_accounts([program.config_address()]).get(program.config_address())
        cfg = program.OracleConfig.unpack(raw[1]) if raw else program.OracleConfig(bytes(32), 0, 0, 0, 0)
        counts = {s: Settlement.objects.filter(status=s).count() for s in Settlement.Status.values}
        return Response({
            "pending_readings": services.pending_count(),
            "settlements": counts,
            "minted": str(cfg.minted), "burned": str(cfg.burned), "grid_import": str(cfg.grid_import),
            "readings_settled": cfg.readings,
            "gxt_supply": str(ledger_selectors.mint_get("GXT")[1].supply),
            "latest": SettlementSerializer(Settlement.objects.all()[:10], many=True).data,
        })


class SettleView(APIView):
    permission_classes = (IsOperator,)

    @extend_schema(operation_id="oracle_settle", tags=["oracle"],
                   summary="Settle pending readings now (operators); the schedule does this every 30 s",
                   request=None, responses={200: inline_serializer("SettleReport", {
                       "busy": serializers.BooleanField(), "recovered": serializers.IntegerField(),
                       "submitted": serializers.IntegerField(), "committed": serializers.IntegerField(),
                       "failed": serializers.IntegerField(), "expired": serializers.IntegerField(),
                       "readings": serializers.IntegerField(), "minted": serializers.IntegerField(),
                       "burned": serializers.IntegerField(), "grid_import": serializers.IntegerField(),
                       "errors": serializers.ListField(child=serializers.CharField())})})
    def post(self, request: Request) -> Response:
        return Response(services.settle().as_dict())
