from django.urls import path

from trading import api

urlpatterns = [
    path("api/v1/trading/orders", api.OrdersView.as_view(), name="api-orders"),
    path("api/v1/trading/orders/batch", api.OrdersBatchView.as_view(), name="api-orders-batch"),
    path("api/v1/trading/orders/<int:order_id>", api.OrderDetailView.as_view(), name="api-order"),
    path("api/v1/trading/orders/<int:order_id>/cancel", api.OrderCancelView.as_view(), name="api-order-cancel"),
    path("api/v1/trading/book/<str:zone>", api.BookView.as_view(), name="api-book"),
    path("api/v1/trading/trades", api.TradesView.as_view(), name="api-trades"),
    path("api/v1/trading/fills", api.FillsView.as_view(), name="api-fills"),
    path("api/v1/trading/stats", api.StatsView.as_view(), name="api-stats"),
    path("api/v1/trading/quote", api.QuoteView.as_view(), name="api-quote"),
    path("api/v1/trading/market/pause", api.PauseView.as_view(), name="api-market-pause"),
]
