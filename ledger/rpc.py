"""JSON-RPC 2.0 at POST /rpc, with Solana's method names, positional params and result shapes (docs/API.md).

Every answer is a JSON-RPC response with HTTP 200, whatever the input: a bad request is an error object, never
a 500. Errors carry the application error (`GridTokenXError.as_dict()`) in `data`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from ledger import present, selectors, services
from ledger.crypto import b58
from ledger.errors import (
    BlockhashNotFound,
    DuplicateTransaction,
    GridTokenXError,
    InvalidInput,
    LedgerUnavailable,
    NotFound,
    SignatureVerificationFailed,
    TransactionFailed,
)

log = logging.getLogger(__name__)

MAX_BATCH = 100
MAX_SIGNATURE_STATUSES = 256
MAX_SIGNATURES_FOR_ADDRESS = 1000
MAX_HEIGHT = 2**63 - 1  # the database's BIGINT


class ParseError(GridTokenXError):
    code = "parse_error"


class InvalidRequest(GridTokenXError):
    code = "invalid_request"


class MethodNotFound(GridTokenXError):
    code = "method_not_found"


class InvalidParams(InvalidInput):
    code = "invalid_params"


# The first matching class decides the JSON-RPC code, so subclasses come before their bases.
ERROR_CODES: list[tuple[type[GridTokenXError], int]] = [
    (ParseError, -32700),
    (InvalidRequest, -32600),
    (MethodNotFound, -32601),
    (InvalidInput, -32602),
    (NotFound, -32602),
    (TransactionFailed, -32002),
    (DuplicateTransaction, -32002),
    (SignatureVerificationFailed, -32003),
    (BlockhashNotFound, -32004),
    (LedgerUnavailable, -32005),
]
INTERNAL_ERROR = -32603


def error_code(exc: GridTokenXError) -> int:
    return next((code for cls, code in ERROR_CODES if isinstance(exc, cls)), INTERNAL_ERROR)


# -- transport ------------------------------------------------------------------------------------------------

@csrf_exempt
def rpc_view(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        response = JsonResponse(_error_response(None, InvalidRequest("send JSON-RPC 2.0 requests with POST")), status=405)
        response["Allow"] = "POST"
        return response
    try:
        payload = json.loads(request.body)
    except RequestDataTooBig:
        return JsonResponse(_error_response(None, InvalidRequest("the request body is too large")), status=413)
    except (ValueError, RecursionError) as exc:  # ValueError covers bad JSON, bad UTF-8 and over-long integers
        return JsonResponse(_error_response(None, ParseError(f"the body is not valid JSON: {str(exc)[:200]}")))
    if isinstance(payload, list):
        if not payload:
            return JsonResponse(_error_response(None, InvalidRequest("a batch must hold at least one request")))
        if len(payload) > MAX_BATCH:
            return JsonResponse(_error_response(None, InvalidRequest(f"a batch holds at most {MAX_BATCH} requests")))
        answers = [answer for answer in map(_handle, payload) if answer is not None]
        return JsonResponse(answers, safe=False) if answers else HttpResponse(status=204)
    answer = _handle(payload)
    return JsonResponse(answer) if answer is not None else HttpResponse(status=204)


def _handle(request: object) -> dict | None:
    """The response to one request, or None for a notification (a valid request without an id)."""
    if not isinstance(request, dict):
        return _error_response(None, InvalidRequest("a request must be a JSON object"))
    request_id = request.get("id")
    if isinstance(request_id, bool) or not isinstance(request_id, (str, int, type(None))):
        return _error_response(None, InvalidRequest("id must be a string, an integer or null"))
    if request.get("jsonrpc") != "2.0":
        return _error_response(request_id, InvalidRequest('jsonrpc must be "2.0"'))
    name = request.get("method")
    if not isinstance(name, str):
        return _error_response(request_id, InvalidRequest("method must be a string"))
    try:
        result = _call(name, request.get("params"))
    except GridTokenXError as exc:
        answer = _error_response(request_id, exc)
    except Exception as exc:  # a bug: answer with an internal error rather than a 500, and log it
        log.exception("JSON-RPC %s failed", name[:100])
        answer = _error_response(request_id, GridTokenXError(f"internal error: {type(exc).__name__}"))
    else:
        answer = {"jsonrpc": "2.0", "result": result, "id": request_id}
    return answer if "id" in request else None


def _call(name: str, params: object):
    method = METHODS.get(name)
    if method is None:
        raise MethodNotFound(f"method {name[:100]!r} does not exist; see docs/API.md for the methods")
    if params is None:
        params = []
    if not isinstance(params, list):
        raise InvalidParams("params must be an array (positional, as in Solana's API)")
    return method(params)


def _error_response(request_id, exc: GridTokenXError) -> dict:
    return {"jsonrpc": "2.0", "error": {"code": error_code(exc), "message": exc.message, "data": exc.as_dict()},
            "id": request_id}


# -- params ---------------------------------------------------------------------------------------------------

def _positional(params: list, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> list:
    """The params padded with None for missing optional ones; raises if the count is wrong."""
    if not len(required) <= len(params) <= len(required) + len(optional):
        names = ", ".join([*required, *(f"[{name}]" for name in optional)]) or "nothing"
        raise InvalidParams(f"expected params: {names}; got {len(params)}")
    return params + [None] * (len(required) + len(optional) - len(params))


def _config(value: object) -> dict:
    """The optional configuration object; unknown keys (commitment, minContextSlot, ...) are ignored."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidParams("the configuration parameter must be an object")
    return value


def _choice(config: dict, key: str, options: tuple[str, ...], default: str) -> str:
    value = config.get(key, default)
    if value not in options:
        raise InvalidParams(f"{key} must be one of {', '.join(options)}")
    return value


def _integer(value: object, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidParams(f"{what} must be an integer from {low} to {high}")
    return value


def _boolean(config: dict, key: str, default: bool) -> bool:
    value = config.get(key, default)
    if not isinstance(value, bool):
        raise InvalidParams(f"{key} must be true or false")
    return value


def _transaction_encoding(config: dict) -> str:
    """Transactions decoded ("json"; "jsonParsed" is the same here) or as their wire bytes ("base64")."""
    encoding = _choice(config, "encoding", ("json", "jsonParsed", "base64"), "json")
    return "base64" if encoding == "base64" else "json"


def _context() -> dict:
    return {"slot": selectors.block_height()}


# -- methods --------------------------------------------------------------------------------------------------

METHODS: dict[str, Callable[[list], object]] = {}


def method(name: str):
    def register(fn):
        METHODS[name] = fn
        return fn
    return register


@method("sendTransaction")
def send_transaction(params: list) -> str:
    encoded, config = _positional(params, ("transaction",), ("config",))
    config = _config(config)
    wire = present.parse_wire(encoded, _choice(config, "encoding", present.WIRE_ENCODINGS, "base64"))
    return services.transaction_submit(wire=wire).signature


@method("simulateTransaction")
def simulate_transaction(params: list) -> dict:
    encoded, config = _positional(params, ("transaction",), ("config",))
    config = _config(config)
    wire = present.parse_wire(encoded, _choice(config, "encoding", present.WIRE_ENCODINGS, "base64"))
    result = services.transaction_simulate(wire=wire, sig_verify=_boolean(config, "sigVerify", True))
    accounts = [{"pubkey": b58(key), "account": present.account(owner, data)}
                for key, (owner, data) in result["accounts"].items()]
    return {"context": _context(),
            "value": {"err": result["err"], "logs": result["logs"], "accounts": present.camel(accounts)}}


@method("getTransaction")
def get_transaction(params: list) -> dict | None:
    signature, config = _positional(params, ("signature",), ("config",))
    encoding = _transaction_encoding(_config(config))
    try:
        row, tx, block = selectors.transaction_get(present.parse_signature(signature))
    except NotFound:
        return None
    return present.camel(present.committed_transaction(tx, block, row.logs, encoding=encoding))


@method("getSignatureStatuses")
def get_signature_statuses(params: list) -> dict:
    signatures, config = _positional(params, ("signatures",), ("config",))
    _config(config)
    if not isinstance(signatures, list) or len(signatures) > MAX_SIGNATURE_STATUSES:
        raise InvalidParams(f"signatures must be an array of at most {MAX_SIGNATURE_STATUSES} base58 signatures")
    keys = [present.parse_signature(sig) for sig in signatures]
    heights = selectors.signature_statuses(keys)
    return {"context": _context(), "value": [
        {"slot": heights[key], "confirmations": None, "err": None, "confirmationStatus": "finalized"}
        if key in heights else None
        for key in keys
    ]}


@method("getSignaturesForAddress")
def get_signatures_for_address(params: list) -> list[dict]:
    address, config = _positional(params, ("address",), ("config",))
    config = _config(config)
    limit = _integer(config.get("limit", MAX_SIGNATURES_FOR_ADDRESS), "limit", 1, MAX_SIGNATURES_FOR_ADDRESS)
    before = config.get("before")
    rows = present.signatures_for_address(
        present.parse_address(address), limit=limit,
        before=present.parse_signature(before) if before is not None else None,
    )
    return present.camel(rows)


@method("getBalance")
def get_balance(params: list) -> dict:
    address, config = _positional(params, ("address",), ("config",))
    _config(config)
    owner = present.parse_address(address, "owner address")
    return {"context": _context(), "value": selectors.wallet_balances(owner)}


@method("getAccountInfo")
def get_account_info(params: list) -> dict:
    address, config = _positional(params, ("address",), ("config",))
    encoding = _choice(_config(config), "encoding", ("base64", "jsonParsed"), "base64")
    key = present.parse_address(address)
    context = _context()
    row = selectors.raw_accounts([key]).get(key)
    value = present.camel(present.account(*row, encoding=encoding)) if row else None
    return {"context": context, "value": value}


@method("getTokenAccountBalance")
def get_token_account_balance(params: list) -> dict:
    address, config = _positional(params, ("address",), ("config",))
    _config(config)
    account = selectors.token_account_get(present.parse_address(address, "token account address"))
    decimals = selectors.mint_get(account.mint)[1].decimals
    return {"context": _context(), "value": present.camel(present.token_amount(account.amount, decimals))}


@method("getTokenSupply")
def get_token_supply(params: list) -> dict:
    mint_ref, config = _positional(params, ("mint",), ("config",))
    _config(config)
    _, mint = selectors.mint_get(present.parse_mint(mint_ref))
    return {"context": _context(), "value": present.camel(present.token_amount(mint.supply, mint.decimals))}


@method("getBlock")
def get_block(params: list) -> dict | None:
    height, config = _positional(params, ("height",), ("config",))
    encoding = _transaction_encoding(_config(config))
    try:
        row, tx_rows = selectors.block_get(_integer(height, "height", 0, MAX_HEIGHT))
    except NotFound:
        return None
    return present.camel(present.block(row, tx_rows, encoding=encoding))


@method("getBlockHeight")
def get_block_height(params: list) -> int:
    (config,) = _positional(params, (), ("config",))
    _config(config)
    return selectors.block_height()


@method("getLatestBlockhash")
def get_latest_blockhash(params: list) -> dict:
    (config,) = _positional(params, (), ("config",))
    _config(config)
    blockhash, last_valid = selectors.latest_blockhash_with_expiry()
    return {"context": _context(), "value": {"blockhash": b58(blockhash), "lastValidBlockHeight": last_valid}}
