"""The ledger's REST API under /api/v1/: blocks, transactions, accounts and tokens, and transaction submission.

Views parse input, call a selector or service, and return the objects `ledger.present` builds, so the JSON is
the same as the JSON-RPC interface's (in snake_case). The output serializers below describe those objects for
the OpenAPI schema (a test checks real responses against it); they do not build output. Errors come in the one
shape of `gridtokenx.api_errors`.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, JsonResponse
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ledger import present, selectors, services
from ledger.crypto import b58
from ledger.errors import InvalidInput, NotFound, TransactionFailed

MAX_HEIGHT = 2**63 - 1  # the database's BIGINT


# -- output shapes (documentation) ----------------------------------------------------------------------------

class TokenAmountSerializer(serializers.Serializer):
    amount = serializers.CharField(help_text="Base units as a decimal string (u64).")
    decimals = serializers.IntegerField(help_text="Base units per whole token, as a power of ten.")
    ui_amount_string = serializers.CharField(help_text='The amount in whole tokens, exact ("1.5"); no float.')


class AccountMetaSerializer(serializers.Serializer):
    pubkey = serializers.CharField(help_text="Base58 address.")
    signer = serializers.BooleanField()
    writable = serializers.BooleanField()
    role = serializers.CharField(allow_null=True, help_text="The account's role in a decoded instruction, e.g. source.")


class InstructionSerializer(serializers.Serializer):
    program_id = serializers.CharField(help_text="Base58 program id.")
    program = serializers.CharField(allow_null=True, help_text="The program's name, e.g. token.")
    name = serializers.CharField(allow_null=True, help_text="The decoded instruction, e.g. transfer; null if unknown.")
    accounts = AccountMetaSerializer(many=True)
    args = serializers.DictField(allow_null=True, help_text='Decoded arguments, e.g. {"amount": "400"}.')
    data = serializers.CharField(help_text="The raw instruction data, base58.")


class MessageSerializer(serializers.Serializer):
    fee_payer = serializers.CharField()
    recent_blockhash = serializers.CharField()
    instructions = InstructionSerializer(many=True)


class TransactionBodySerializer(serializers.Serializer):
    signatures = serializers.ListField(child=serializers.CharField(), help_text="Base58; the first is the id.")
    message = MessageSerializer()


class TransactionMetaSerializer(serializers.Serializer):
    err = serializers.JSONField(allow_null=True, help_text="Always null: failed transactions are not recorded.")
    status = serializers.DictField(help_text='Always {"Ok": null}.')
    log_messages = serializers.ListField(child=serializers.CharField(),
                                         help_text="What the runtime logged while executing it, line by line.")


class BlockTransactionSerializer(serializers.Serializer):
    transaction = TransactionBodySerializer()
    meta = TransactionMetaSerializer()


class CommittedTransactionSerializer(BlockTransactionSerializer):
    slot = serializers.IntegerField(help_text="The height of the block that holds the transaction.")
    block_time = serializers.IntegerField(help_text="Unix seconds.")


class BlockHeaderSerializer(serializers.Serializer):
    blockhash = serializers.CharField()
    previous_blockhash = serializers.CharField()
    parent_slot = serializers.IntegerField()
    block_height = serializers.IntegerField()
    block_time = serializers.IntegerField(help_text="Unix seconds.")
    timestamp_ms = serializers.IntegerField(help_text="The time the header hashes, in milliseconds since the epoch.")
    transaction_count = serializers.IntegerField()
    tx_root = serializers.CharField(help_text="Merkle root of the block's transactions, base58.")
    state_root = serializers.CharField(help_text="Commitment to every account after the block, base58.")
    producer = serializers.CharField(help_text="The validator's key, base58.")
    signature = serializers.CharField(help_text="The validator's signature of the block hash, base58.")


class BlockSerializer(BlockHeaderSerializer):
    transactions = BlockTransactionSerializer(many=True)


class BlockPageSerializer(serializers.Serializer):
    results = BlockHeaderSerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text="The next (older) page, or null at genesis.")


class AccountSerializer(serializers.Serializer):
    owner = serializers.CharField(help_text="The owning program, base58.")
    data = serializers.JSONField(help_text='Token-program data decoded ({"program", "parsed", "space"}); '
                                           'other data as ["<base64>", "base64"].')
    space = serializers.IntegerField(help_text="Data length in bytes.")
    executable = serializers.BooleanField()


class BalancesSerializer(serializers.Serializer):
    GXT = TokenAmountSerializer()
    THB = TokenAmountSerializer()


class AccountDetailSerializer(serializers.Serializer):
    address = serializers.CharField()
    account = AccountSerializer(allow_null=True, help_text="Null when no account is stored at the address.")
    balances = BalancesSerializer(allow_null=True, help_text="Null unless the address owns platform token accounts.")


class SignatureInfoSerializer(serializers.Serializer):
    signature = serializers.CharField()
    slot = serializers.IntegerField()
    err = serializers.JSONField(allow_null=True)
    block_time = serializers.IntegerField()


class SignaturePageSerializer(serializers.Serializer):
    results = SignatureInfoSerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text="The next (older) page, or null.")


class TokenSerializer(serializers.Serializer):
    address = serializers.CharField(help_text="The mint's address, base58.")
    symbol = serializers.CharField()
    decimals = serializers.IntegerField()
    authority = serializers.CharField(help_text="The mint authority, base58.")
    supply = TokenAmountSerializer()


class SubmittedSerializer(serializers.Serializer):
    signature = serializers.CharField(help_text="The transaction id: its first signature, base58.")
    block_height = serializers.IntegerField(help_text="The block that holds the transaction.")


@extend_schema_field({
    "type": "object",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "string", "description": "Stable machine-readable code, e.g. transaction_failed."},
        "message": {"type": "string", "description": "What is wrong, in words."},
        "instruction": {"type": "integer", "nullable": True,
                        "description": "transaction_failed: the index of the failing instruction."},
        "reason": {"type": "string", "description": "transaction_failed: a stable reason, e.g. insufficient_funds."},
        "fields": {"type": "object", "nullable": True, "additionalProperties": {},
                   "description": "invalid_input: every problem, by field."},
    },
    # Each error class may add details of its own (GridTokenXError.as_dict).
    "additionalProperties": True,
})
class ErrorBodyField(serializers.JSONField):
    pass


class ErrorSerializer(serializers.Serializer):
    error = ErrorBodyField()


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


ADDRESS = OpenApiParameter("address", str, OpenApiParameter.PATH, description="A base58 address (32 bytes).")


# -- input ----------------------------------------------------------------------------------------------------

class TransactionSubmitSerializer(serializers.Serializer):
    transaction = serializers.CharField(help_text="The signed transaction's wire bytes (docs/PROTOCOL.md).")
    encoding = serializers.ChoiceField(choices=present.WIRE_ENCODINGS, default="base64")


class BlockListQuerySerializer(serializers.Serializer):
    before = serializers.IntegerField(required=False, min_value=0, max_value=MAX_HEIGHT,
                                      help_text="Only blocks below this height.")
    limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=100)


class SignatureListQuerySerializer(serializers.Serializer):
    before = serializers.CharField(required=False, help_text="Only transactions older than this signature.")
    limit = serializers.IntegerField(required=False, default=100, min_value=1, max_value=1000)


def _valid(serializer: serializers.Serializer) -> dict:
    """The validated data, or InvalidInput whose message names the first problem (all are in `fields`)."""
    if not serializer.is_valid():
        field, problems = next(iter(serializer.errors.items()))
        where = "the body" if field == "non_field_errors" else field
        raise InvalidInput(f"{where}: {problems[0]}", fields=serializer.errors)
    return serializer.validated_data


def _query(serializer_class: type[serializers.Serializer], request: Request) -> dict:
    return _valid(serializer_class(data=request.query_params))


def _next_page(request: Request, **params) -> str:
    return request.build_absolute_uri(f"{request.path}?{urlencode(params)}")


def _height(text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 19 and int(text) <= MAX_HEIGHT):
        raise InvalidInput(f"block height must be a whole number from 0 to {MAX_HEIGHT}, not {text[:40]!r}")
    return int(text)


# -- views ----------------------------------------------------------------------------------------------------

class LedgerAPIView(APIView):
    # Ledger data is public, and a submission is authorised by its own signatures, so no login is involved.
    authentication_classes = ()
    permission_classes = ()

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        # The transaction was well formed but could not execute: the request was understood, not processable.
        if isinstance(exc, TransactionFailed):
            response.status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
        return response


class BlockListView(LedgerAPIView):
    @extend_schema(
        operation_id="blocks_list", tags=["ledger"], summary="Blocks, newest first",
        parameters=[BlockListQuerySerializer],
        responses={200: BlockPageSerializer, 400: _error("`before` or `limit` is out of range.")},
    )
    def get(self, request: Request) -> Response:
        query = _query(BlockListQuerySerializer, request)
        rows = selectors.blocks_list(before=query.get("before"), limit=query["limit"])
        more = len(rows) == query["limit"] and rows[-1].height > 0
        return Response({
            "results": [present.block_header(row) for row in rows],
            "next": _next_page(request, before=rows[-1].height, limit=query["limit"]) if more else None,
        })


class BlockDetailView(LedgerAPIView):
    @extend_schema(
        operation_id="blocks_retrieve", tags=["ledger"], summary="A block with its transactions",
        parameters=[OpenApiParameter("height", int, OpenApiParameter.PATH, description="Block height (0 is genesis).")],
        responses={200: BlockSerializer, 400: _error("The height is not a whole number."),
                   404: _error("No block at this height yet.")},
    )
    def get(self, request: Request, height: str) -> Response:
        return Response(present.block(*selectors.block_get(_height(height))))


class TransactionSubmitView(LedgerAPIView):
    @extend_schema(
        operation_id="transactions_create", tags=["ledger"], summary="Submit a signed transaction",
        description="Returns once the block holding the transaction is durably committed. Idempotent: submitting "
                    "a committed transaction again returns its original block.",
        request=TransactionSubmitSerializer,
        responses={
            201: SubmittedSerializer,
            400: _error("Malformed transaction, bad signature (signature_verification_failed), or unknown or "
                        "expired recent blockhash (blockhash_not_found)."),
            422: _error("Execution failed; nothing was applied. `instruction` is the failing instruction's index "
                        "and `reason` a stable code such as insufficient_funds."),
            503: _error("The ledger could not commit in time (ledger_unavailable); resubmit the same bytes."),
        },
        examples=[OpenApiExample("Failed execution", status_codes=["422"], response_only=True, value={
            "error": {"code": "transaction_failed", "message": "instruction 0 failed: insufficient funds: balance "
                      "10, transfer 11", "instruction": 0, "reason": "insufficient_funds"}})],
    )
    def post(self, request: Request) -> Response:
        body = _valid(TransactionSubmitSerializer(data=request.data))
        wire = present.parse_wire(body["transaction"], body["encoding"])
        submitted = services.transaction_submit(wire=wire)
        return Response({"signature": submitted.signature, "block_height": submitted.block_height},
                        status=status.HTTP_201_CREATED)


class TransactionDetailView(LedgerAPIView):
    @extend_schema(
        operation_id="transactions_retrieve", tags=["ledger"], summary="A committed transaction",
        parameters=[OpenApiParameter("signature", str, OpenApiParameter.PATH,
                                     description="The transaction id (its first signature), base58.")],
        responses={200: CommittedTransactionSerializer, 400: _error("The signature is not base58 of 64 bytes."),
                   404: _error("No committed transaction with this signature.")},
    )
    def get(self, request: Request, signature: str) -> Response:
        row, tx, block = selectors.transaction_get(present.parse_signature(signature))
        return Response(present.committed_transaction(tx, block, row.logs))


class AccountDetailView(LedgerAPIView):
    @extend_schema(
        operation_id="accounts_retrieve", tags=["ledger"], summary="An account and, for a wallet, its balances",
        description="`account` is the stored account (token-program data decoded); `balances` is present when the "
                    "address owns associated token accounts, with 0 for a platform token it holds no account of.",
        parameters=[ADDRESS],
        responses={200: AccountDetailSerializer, 400: _error("The address is not base58 of 32 bytes."),
                   404: _error("Neither an account nor a wallet.")},
    )
    def get(self, request: Request, address: str) -> Response:
        key = present.parse_address(address)
        row = selectors.raw_accounts([key]).get(key)
        wallet = present.is_wallet(key)
        if row is None and not wallet:
            raise NotFound("no account and no token accounts at this address")
        return Response({
            "address": b58(key),
            "account": present.account(*row, encoding="jsonParsed") if row else None,
            "balances": present.balances(key) if wallet else None,
        })


class AccountTransactionsView(LedgerAPIView):
    @extend_schema(
        operation_id="accounts_transactions_list", tags=["ledger"], summary="Transactions that named an account",
        parameters=[ADDRESS, SignatureListQuerySerializer],
        responses={200: SignaturePageSerializer, 400: _error("Bad address, `before` signature or `limit`."),
                   404: _error("`before` is not a committed transaction.")},
    )
    def get(self, request: Request, address: str) -> Response:
        key = present.parse_address(address)
        query = _query(SignatureListQuerySerializer, request)
        before = query.get("before")
        rows = present.signatures_for_address(
            key, limit=query["limit"], before=present.parse_signature(before) if before is not None else None
        )
        more = len(rows) == query["limit"]
        return Response({
            "results": rows,
            "next": _next_page(request, before=rows[-1]["signature"], limit=query["limit"]) if more else None,
        })


class TokenDetailView(LedgerAPIView):
    @extend_schema(
        operation_id="tokens_retrieve", tags=["ledger"], summary="A token's supply, decimals and authority",
        parameters=[OpenApiParameter("token", str, OpenApiParameter.PATH,
                                     description="GXT, THB, or a mint address (base58).")],
        responses={200: TokenSerializer, 400: _error("Neither a token symbol nor a base58 address."),
                   404: _error("No mint at this address.")},
    )
    def get(self, request: Request, token: str) -> Response:
        key, mint = selectors.mint_get(present.parse_mint(token))
        return Response(present.token(key, mint))


def api_not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Any other path under /api/v1/: a 404 in the API's error shape rather than an HTML page."""
    error = NotFound(f"no API endpoint at {request.path[:200]}; paths end with a slash, see /api/docs/")
    return JsonResponse({"error": error.as_dict()}, status=error.status)
