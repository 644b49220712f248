"""The registry's REST API: sign-up and tokens, zones, meters, and the operator's suspend/reinstate.

Authentication: `Authorization: Token <token>` (from sign-up or POST /api/v1/auth/token) or a session. Operators
are staff users. Sign-up and the zone list are open.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ledger import selectors as ledger_selectors
from ledger.api import _error, _valid
from ledger.crypto import parse_address
from ledger.errors import Forbidden, NotFound
from registry import services
from registry.models import Meter, Participant, Zone


class IsOperator(permissions.BasePermission):
    message = "only operators may do this"

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_staff)


def participant_of(request: Request) -> Participant:
    participant = getattr(request.user, "participant", None)
    if participant is None:
        raise Forbidden("this login has no exchange account")
    return participant


# -- shapes ---------------------------------------------------------------------------------------------------

class SignUpSerializer(serializers.Serializer):
    username = serializers.RegexField(r"^[A-Za-z0-9_.@+-]{3,150}$", help_text="3-150 letters, digits or _.@+-")
    password = serializers.CharField(min_length=10, max_length=128, write_only=True)
    role = serializers.ChoiceField(choices=Participant.Role.choices,
                                   help_text="operator only when an operator signs the request")
    email = serializers.EmailField(required=False, allow_blank=True)


class ParticipantSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username")

    class Meta:
        model = Participant
        fields = ["username", "role", "status", "wallet", "ledger_signature", "created_at"]


class SignedUpSerializer(ParticipantSerializer):
    token = serializers.CharField(help_text="API token: send as `Authorization: Token <token>`.")

    class Meta(ParticipantSerializer.Meta):
        fields = [*ParticipantSerializer.Meta.fields, "token"]


class MeSerializer(ParticipantSerializer):
    balances = serializers.DictField(child=serializers.CharField(), help_text="Base units by token symbol.")

    class Meta(ParticipantSerializer.Meta):
        fields = [*ParticipantSerializer.Meta.fields, "balances"]


class ZoneSerializer(serializers.ModelSerializer):
    class Meta:
        model = Zone
        fields = ["code", "name", "center_lat", "center_lon", "south", "west", "north", "east", "address",
                  "ledger_signature"]
        read_only_fields = ["address", "ledger_signature"]
        extra_kwargs = {"code": {"validators": []}}


class MeterSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.user.username", read_only=True)
    zone = serializers.CharField(source="zone.code")

    class Meta:
        model = Meter
        fields = ["serial", "owner", "type", "zone", "status", "latitude", "longitude", "capacity_w", "max_import_w",
                  "public_key", "address", "ledger_signature", "last_end", "created_at"]
        read_only_fields = ["status", "address", "ledger_signature", "last_end", "created_at"]
        extra_kwargs = {"serial": {"validators": []}, "public_key": {"validators": []},
                        "capacity_w": {"min_value": 0, "max_value": 10**12},
                        "max_import_w": {"min_value": 0, "max_value": 10**12},
                        "latitude": {"min_value": -90, "max_value": 90},
                        "longitude": {"min_value": -180, "max_value": 180}}


class StatusSerializer(serializers.Serializer):
    status = serializers.CharField()


# -- views ----------------------------------------------------------------------------------------------------

class SignUpView(APIView):
    permission_classes = ()

    @extend_schema(operation_id="registry_users_create", tags=["registry"], summary="Sign up",
                   description="Creates a login, a custodial wallet and the user's on-ledger identity with GXT and "
                               "THB token accounts, in one signed ledger transaction.",
                   request=SignUpSerializer,
                   responses={201: SignedUpSerializer, 400: _error("Invalid field."),
                              403: _error("Only operators create operators."), 409: _error("Username taken.")})
    def post(self, request: Request) -> Response:
        body = _valid(SignUpSerializer(data=request.data))
        if body["role"] == "operator" and not request.user.is_staff:
            raise Forbidden("only an operator may create an operator")
        participant = services.user_register(username=body["username"], password=body["password"],
                                             role=body["role"], email=body.get("email", ""))
        token, _ = Token.objects.get_or_create(user=participant.user)
        data = ParticipantSerializer(participant).data | {"token": token.key}
        return Response(data, status=status.HTTP_201_CREATED)


class TokenView(ObtainAuthToken):
    @extend_schema(operation_id="auth_token_create", tags=["registry"], summary="Exchange a username and password for a token",
                   request=ObtainAuthToken.serializer_class,
                   responses={200: inline_serializer("TokenIssued", {"token": serializers.CharField()}),
                              400: _error("Wrong username or password.")})
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class MeView(APIView):
    @extend_schema(operation_id="registry_me_retrieve", tags=["registry"], summary="My account and balances",
                   responses={200: MeSerializer, 403: _error("Not signed in.")})
    def get(self, request: Request) -> Response:
        participant = participant_of(request)
        balances = ledger_selectors.wallet_balances(parse_address(participant.wallet))
        return Response(ParticipantSerializer(participant).data | {"balances": {k: str(v) for k, v in balances.items()}})


class ZoneListView(APIView):
    def get_permissions(self):
        return [IsOperator()] if self.request.method == "POST" else []

    @extend_schema(operation_id="registry_zones_list", tags=["registry"], summary="Zones",
                   responses={200: ZoneSerializer(many=True)})
    def get(self, request: Request) -> Response:
        return Response(ZoneSerializer(Zone.objects.all(), many=True).data)

    @extend_schema(operation_id="registry_zones_create", tags=["registry"], summary="Register a zone (operators)",
                   request=ZoneSerializer,
                   responses={201: ZoneSerializer, 400: _error("Invalid field."), 409: _error("Code taken.")})
    def post(self, request: Request) -> Response:
        b = _valid(ZoneSerializer(data=request.data))
        zone = services.zone_register(code=b["code"], name=b["name"], center=(b["center_lat"], b["center_lon"]),
                                      bbox=(b["south"], b["west"], b["north"], b["east"]))
        return Response(ZoneSerializer(zone).data, status=status.HTTP_201_CREATED)


class MeterListView(APIView):
    permission_classes = (permissions.IsAuthenticated,)

    @extend_schema(operation_id="registry_meters_list", tags=["registry"], summary="My meters (operators: all)",
                   responses={200: MeterSerializer(many=True)})
    def get(self, request: Request) -> Response:
        meters = Meter.objects.select_related("owner__user", "zone")
        if not request.user.is_staff:
            meters = meters.filter(owner=participant_of(request))
        return Response(MeterSerializer(meters, many=True).data)

    @extend_schema(operation_id="registry_meters_create", tags=["registry"], summary="Register a meter",
                   description="Signed on the ledger by the operator and by the owner's wallet. `public_key` is the "
                               "meter's own Ed25519 key, with which it signs its readings.",
                   request=MeterSerializer,
                   responses={201: MeterSerializer, 400: _error("Invalid field."), 404: _error("Unknown zone."),
                              409: _error("Serial or key already registered."), 422: _error("Suspended user.")})
    def post(self, request: Request) -> Response:
        b = _valid(MeterSerializer(data=request.data))
        meter = services.meter_register(
            owner=participant_of(request), serial=b["serial"], type=b["type"], zone_code=b["zone"]["code"],
            latitude=b["latitude"], longitude=b["longitude"], capacity_w=b["capacity_w"],
            max_import_w=b["max_import_w"], public_key=b["public_key"],
        )
        return Response(MeterSerializer(meter).data, status=status.HTTP_201_CREATED)


def meter_for(request: Request, serial: str) -> Meter:
    """The meter, if the caller owns it or is an operator; 404 otherwise (no leak of others' serials)."""
    meter = Meter.objects.select_related("owner__user", "zone").filter(serial=serial).first()
    if meter is None or not (request.user.is_staff or meter.owner.user_id == request.user.id):
        raise NotFound(f"no meter {serial!r} of yours")
    return meter


SERIAL = OpenApiParameter("serial", str, OpenApiParameter.PATH)


class MeterDetailView(APIView):
    permission_classes = (permissions.IsAuthenticated,)

    @extend_schema(operation_id="registry_meters_retrieve", tags=["registry"], summary="One of my meters",
                   parameters=[SERIAL], responses={200: MeterSerializer, 404: _error("Not yours or unknown.")})
    def get(self, request: Request, serial: str) -> Response:
        return Response(MeterSerializer(meter_for(request, serial)).data)


class MeterStatusView(APIView):
    permission_classes = (permissions.IsAuthenticated,)

    @extend_schema(operation_id="registry_meters_status", tags=["registry"],
                   summary="Set a meter's status: active, maintenance or deactivated (final)",
                   description="Owners and operators. Readings from a meter that is not active are rejected.",
                   parameters=[SERIAL], request=StatusSerializer,
                   responses={200: MeterSerializer, 400: _error("Unknown status."), 404: _error("Not yours."),
                              422: _error("Already deactivated.")})
    def post(self, request: Request, serial: str) -> Response:
        meter = meter_for(request, serial)
        body = _valid(StatusSerializer(data=request.data))
        return Response(MeterSerializer(services.meter_set_status(meter=meter, status=body["status"])).data)


class UserStatusView(APIView):
    permission_classes = (IsOperator,)

    @extend_schema(operation_id="registry_users_status", tags=["registry"],
                   summary="Suspend or reinstate a user (operators): status active or suspended",
                   parameters=[OpenApiParameter("username", str, OpenApiParameter.PATH)], request=StatusSerializer,
                   responses={200: ParticipantSerializer, 400: _error("Unknown status."), 404: _error("No such user.")})
    def post(self, request: Request, username: str) -> Response:
        participant = Participant.objects.select_related("user").filter(user__username=username).first()
        if participant is None:
            raise NotFound(f"no user {username!r}")
        body = _valid(StatusSerializer(data=request.data))
        return Response(ParticipantSerializer(services.user_set_status(participant=participant, status=body["status"])).data)
