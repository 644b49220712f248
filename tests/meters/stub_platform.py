"""A small in-memory stand-in for the platform's REST API, served over real HTTP from a thread, for testing the
simulator's client side: sign-up and log-in, zones, meter registration, and readings checked as the oracle does
(signature by the registered key, one reading per meter and interval, intervals in order).

`fail(path, status, ...)` makes the next requests to a path answer with an error before being handled.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from oracle.reading import InvalidReading, from_json

PREFIX = "/api/v1"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the simulator opens up to --concurrency connections at once


class StubPlatform:
    def __init__(self, zones: list[dict] | None = None):
        self.zones = [{"code": "BKK-1", "name": "Bangkok 1", "center_lat": 13.7, "center_lon": 100.5}] \
            if zones is None else zones
        self.users: dict[str, dict] = {}
        self.tokens: dict[str, str] = {}
        self.meters: dict[str, dict] = {}
        self.readings: dict[tuple[str, int], dict] = {}
        self.last_end: dict[str, int] = {}
        self.hits: Counter[str] = Counter()
        self.batch_sizes: list[int] = []
        self.faults: dict[str, list[tuple[int, dict]]] = defaultdict(list)
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> StubPlatform:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail(self, path: str, status: int, times: int = 1, code: str = "injected", message: str = "injected") -> None:
        self.faults[PREFIX + path] += [(status, {"code": code, "message": message})] * times

    # -- the API ----------------------------------------------------------------------------------------------

    def handle(self, method: str, path: str, body, token: str | None) -> tuple[int, object]:
        with self._lock:
            self.hits[f"{method} {path}"] += 1
            if self.faults[path]:
                return self.faults[path].pop(0)
            route = {
                ("POST", "/registry/users"): self.user_create,
                ("POST", "/auth/token"): self.token_create,
                ("GET", "/registry/zones"): lambda b, t: (200, self.zones),
                ("POST", "/registry/meters"): self.meter_create,
                ("POST", "/oracle/readings"): self.reading_create,
                ("POST", "/oracle/readings/batch"): self.batch_create,
            }.get((method, path.removeprefix(PREFIX)))
            if route is None:
                return 404, {"code": "not_found", "message": f"no endpoint {method} {path}"}
            return route(body, token)

    def user_create(self, body, token):
        if body["username"] in self.users:
            return 409, {"code": "username_taken", "message": "that username is taken"}
        if len(body["password"]) < 12 or body["role"] not in ("prosumer", "consumer"):
            return 400, {"code": "invalid_input", "message": "bad password or role"}
        token = secrets.token_hex(8)
        self.users[body["username"]] = body
        self.tokens[token] = body["username"]
        return 201, {"username": body["username"], "role": body["role"], "status": "active", "wallet": "w",
                     "token": token}

    def token_create(self, body, token):
        user = self.users.get(body["username"])
        if user is None or user["password"] != body["password"]:
            return 400, {"code": "invalid_credentials", "message": "wrong username or password"}
        token = secrets.token_hex(8)
        self.tokens[token] = body["username"]
        return 200, {"token": token}

    def meter_create(self, body, token):
        if token not in self.tokens:
            return 401, {"code": "not_authenticated", "message": "log in first"}
        if body["serial"] in self.meters:
            return 409, {"code": "meter_exists", "message": "already registered"}
        if body["type"] not in ("solar", "wind", "battery", "consumption", "hybrid"):
            return 400, {"code": "invalid_input", "message": f"unknown kind {body['kind']}"}
        if body["zone"] not in {zone["code"] for zone in self.zones}:
            return 400, {"code": "invalid_input", "message": "unknown zone"}
        self.meters[body["serial"]] = dict(body, owner=self.tokens[token])
        return 201, dict(body, status="active")

    def _decide(self, body) -> tuple[int, dict]:
        try:
            reading, signature = from_json(body)
        except InvalidReading as exc:
            return 400, {"code": exc.code, "message": exc.message}
        key = body["meter"]
        if key not in {meter["public_key"] for meter in self.meters.values()}:
            return 404, {"code": "unknown_meter", "message": "no meter has this key"}
        if not reading.verify(signature):
            return 400, {"code": "bad_signature", "message": "the signature does not verify"}
        held = self.readings.get((key, reading.interval_start))
        if held is not None:
            if held == body:
                return 200, {"status": "duplicate"}
            return 409, {"code": "conflicting_reading", "message": "another reading holds this interval"}
        if reading.interval_start < self.last_end.get(key, 0):
            return 409, {"code": "stale_interval", "message": "older than the last accepted interval"}
        self.readings[(key, reading.interval_start)] = body
        self.last_end[key] = reading.interval_start + reading.interval_seconds
        return 201, {"status": "accepted"}

    def reading_create(self, body, token):
        return self._decide(body)

    def batch_create(self, body, token):
        self.batch_sizes.append(len(body["readings"]))
        results = []
        for index, item in enumerate(body["readings"]):
            status, answer = self._decide(item)
            results.append({"index": index, "status": "rejected", **answer} if status >= 400
                           else {"index": index, "status": answer["status"]})
        totals = Counter(result["status"] for result in results)
        return 200, {"accepted": totals["accepted"], "duplicates": totals["duplicate"],
                     "rejected": totals["rejected"], "results": results}

    def _handler(self):
        platform = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                auth = self.headers.get("Authorization") or ""
                token = auth.removeprefix("Token ") if auth.startswith("Token ") else None
                status, answer = platform.handle(method, self.path, body, token)
                raw = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self):  # noqa: N802
                self._serve("GET")

            def do_POST(self):  # noqa: N802
                self._serve("POST")

            def log_message(self, format, *args):
                pass

        return Handler
