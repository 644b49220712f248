"""Who may open a websocket, and as whom.

Token login for websocket clients that are not browsers: `Authorization: Token <key>`, the REST API's token,
on the handshake. Browsers keep their session (Channels' AuthMiddlewareStack, outside this middleware), and a
session always wins over a token.

Only the header is read, never a `?token=` in the URL: URLs end up in proxy and server logs, and the one client
that cannot set a header on a websocket, the browser, has its session instead.

The origin check (`SiteOriginValidator`) refuses a handshake whose Origin is not one of ALLOWED_HOSTS, so that no
other site's page can open a socket with this site's session cookie. A handshake without an Origin is let
through: browsers always send one, and a client that is not a browser can send whatever Origin it likes, so
refusing it would only turn away the token clients above.
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import AllowedHostsOriginValidator, OriginValidator


class _BrowserOriginValidator(OriginValidator):
    def valid_origin(self, parsed_origin):
        return parsed_origin is None or super().valid_origin(parsed_origin)


def SiteOriginValidator(application):
    """Channels' AllowedHostsOriginValidator (the same hosts, DEBUG's local ones included), except that a
    handshake without an Origin header passes."""
    return _BrowserOriginValidator(application, AllowedHostsOriginValidator(application).allowed_origins)


class TokenAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        user = scope.get("user")
        if user is not None and not user.is_authenticated:
            key = _token_key(scope.get("headers", ()))
            if key:
                token_user = await _active_user(key)
                if token_user is not None:
                    scope = dict(scope, user=token_user)
        return await super().__call__(scope, receive, send)


def _token_key(headers) -> str | None:
    for name, value in headers:
        if name.lower() == b"authorization":
            scheme, _, key = value.decode("latin-1").strip().partition(" ")
            key = key.strip()
            if scheme.lower() == "token" and 0 < len(key) <= 64:
                return key
    return None


@database_sync_to_async
def _active_user(key: str):
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return None
    return token.user
