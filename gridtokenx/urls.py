from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from ledger.views import home

urlpatterns = [
    path("", home, name="home"),
    path("admin/", include("portal.urls")),
    path("admin/", admin.site.urls),
    path("", include("registry.urls")),
    path("", include("oracle.urls")),
    path("", include("trading.urls")),
    path("explorer/", include("explorer.urls")),
    path("dashboard/", include("dashboard.urls")),
    path("", include("ledger.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
