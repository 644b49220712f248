from django.urls import path

from registry import api

urlpatterns = [
    path("api/v1/auth/token", api.TokenView.as_view(), name="api-token-auth"),
    path("api/v1/registry/users", api.SignUpView.as_view(), name="api-signup"),
    path("api/v1/registry/users/<str:username>/status", api.UserStatusView.as_view(), name="api-user-status"),
    path("api/v1/registry/me", api.MeView.as_view(), name="api-me"),
    path("api/v1/registry/zones", api.ZoneListView.as_view(), name="api-zones"),
    path("api/v1/registry/meters", api.MeterListView.as_view(), name="api-meters"),
    path("api/v1/registry/meters/<str:serial>", api.MeterDetailView.as_view(), name="api-meter"),
    path("api/v1/registry/meters/<str:serial>/status", api.MeterStatusView.as_view(), name="api-meter-status"),
]
