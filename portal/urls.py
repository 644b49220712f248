"""The portal's pages, under /admin/ beside the admin's own (gridtokenx.urls includes them first)."""

from django.contrib import admin
from django.urls import path

from portal import views

urlpatterns = [
    path("analytics/", admin.site.admin_view(views.analytics), name="portal-analytics"),
    path("monitoring/", admin.site.admin_view(views.monitoring), name="portal-monitoring"),
    path("monitoring/market/", admin.site.admin_view(views.market_pause), name="portal-market-pause"),
    path("monitoring/settle/", admin.site.admin_view(views.settle_now), name="portal-settle-now"),
]
