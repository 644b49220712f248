import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridtokenx.settings")
django_asgi_app = get_asgi_application()

# Django must be set up before these imports.
from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from gridtokenx import http_server, scheduler  # noqa: E402
from gridtokenx.websocket_auth import SiteOriginValidator, TokenAuthMiddleware  # noqa: E402
from trading.desk import OrderDoor  # noqa: E402
from trading.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter({
    # Token-authenticated order placements go to the order desk before Django's request handling (trading.desk).
    "http": OrderDoor(django_asgi_app),
    # Origin checked against ALLOWED_HOSTS (a browser always sends one, so no other site's page can open a
    # socket with this site's session cookie; other clients may omit it); then the session's user, or a token's.
    "websocket": SiteOriginValidator(
        AuthMiddlewareStack(TokenAuthMiddleware(URLRouter(websocket_urlpatterns)))),
})
http_server.install()
scheduler.start()
