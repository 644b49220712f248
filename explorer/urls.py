from django.urls import path

from explorer import views

# Path parts are taken as text and parsed by the explorer itself, so malformed input gets its 400 page.
urlpatterns = [
    path("", views.home, name="explorer-home"),
    path("search/", views.search, name="explorer-search"),
    path("block/<str:height>/", views.block, name="explorer-block"),
    path("tx/<str:signature>/", views.transaction, name="explorer-tx"),
    path("address/<str:address>/", views.address, name="explorer-address"),
    path("reading/<str:reading_id>/", views.reading, name="explorer-reading"),
    path("trade/<str:trade_id>/", views.trade, name="explorer-trade"),
]
