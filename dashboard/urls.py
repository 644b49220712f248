from django.contrib.auth import views as auth_views
from django.urls import path

from dashboard import views

urlpatterns = [
    path("", views.home, name="dashboard-home"),
    path("signup/", views.signup, name="dashboard-signup"),
    path("login/", auth_views.LoginView.as_view(template_name="dashboard/login.html", next_page="dashboard-home",
                                                redirect_authenticated_user=True), name="dashboard-login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="dashboard-login"), name="dashboard-logout"),
    path("balances/", views.balances, name="dashboard-balances"),
    path("meters/", views.meters, name="dashboard-meters"),
    path("meters/add/", views.meter_add, name="dashboard-meter-add"),
    path("meters/<str:serial>/series.json", views.meter_series, name="dashboard-meter-series"),
    path("market/", views.market, name="dashboard-market"),
    path("market/quote/", views.quote, name="dashboard-quote"),
    path("orders/", views.open_orders, name="dashboard-orders"),
    path("orders/place/", views.order_place, name="dashboard-order-place"),
    path("orders/<int:order_id>/cancel/", views.order_cancel, name="dashboard-order-cancel"),
    path("history/", views.history, name="dashboard-history"),
]
