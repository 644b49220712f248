"""The live market's websocket routes (gridtokenx/asgi.py mounts them)."""

from django.urls import path

from trading import consumers

websocket_urlpatterns = [
    path("ws/book/<str:zone>/", consumers.BookConsumer.as_asgi()),
    path("ws/trades/", consumers.TradesConsumer.as_asgi()),
    path("ws/me/", consumers.MeConsumer.as_asgi()),
]
