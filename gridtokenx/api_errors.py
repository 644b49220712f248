"""One error shape for the whole REST API: {"error": {"code": ..., "message": ..., ...details}}."""

import logging

from django.db import OperationalError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ledger.errors import GridTokenXError


log = logging.getLogger(__name__)
RETRY_AFTER_S = 1


def exception_handler(exc, context):
    if isinstance(exc, GridTokenXError):
        return Response({"error": exc.as_dict()}, status=exc.status)
    if isinstance(exc, OperationalError):
        # The database refused a connection or a lock (overload, restart). The client may send the same request
        # again (writes that move value are idempotent on the client's nonce), so it is a 503, not a 500.
        log.warning("database unavailable: %s", exc)
        return Response({"error": {"code": "database_unavailable",
                                   "message": "the database is unavailable or overloaded; retry shortly"}},
                        status=status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": str(RETRY_AFTER_S)})
    response = drf_exception_handler(exc, context)
    if response is not None:
        detail = response.data
        message = detail.get("detail") if isinstance(detail, dict) and "detail" in detail else detail
        code = getattr(getattr(exc, "default_code", None), "__str__", lambda: "invalid_input")()
        response.data = {"error": {"code": code if response.status_code != status.HTTP_400_BAD_REQUEST else "invalid_input",
                                   "message": str(message) if not isinstance(message, (dict, list)) else "invalid input",
                                   "fields": message if isinstance(message, (dict, list)) else None}}
    return response
