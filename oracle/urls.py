from django.urls import path

from oracle import api

urlpatterns = [
    path("api/v1/oracle/readings", api.ReadingView.as_view(), name="api-reading"),
    path("api/v1/oracle/readings/batch", api.BatchView.as_view(), name="api-reading-batch"),
    path("api/v1/oracle/meters/<str:serial>/readings", api.MeterReadingsView.as_view(), name="api-meter-readings"),
    path("api/v1/oracle/meters/<str:serial>/rejections", api.MeterRejectionsView.as_view(), name="api-meter-rejections"),
    path("api/v1/oracle/status", api.StatusView.as_view(), name="api-oracle-status"),
    path("api/v1/oracle/settle", api.SettleView.as_view(), name="api-oracle-settle"),
]
