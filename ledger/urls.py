from django.urls import path, re_path

from ledger import api, rpc

urlpatterns = [
    re_path(r"^rpc/?$", rpc.rpc_view, name="rpc"),
    path("api/v1/blocks/", api.BlockListView.as_view(), name="api-blocks"),
    path("api/v1/blocks/<str:height>/", api.BlockDetailView.as_view(), name="api-block"),
    path("api/v1/transactions/", api.TransactionSubmitView.as_view(), name="api-transactions"),
    path("api/v1/transactions/<str:signature>/", api.TransactionDetailView.as_view(), name="api-transaction"),
    path("api/v1/accounts/<str:address>/", api.AccountDetailView.as_view(), name="api-account"),
    path("api/v1/accounts/<str:address>/transactions/", api.AccountTransactionsView.as_view(),
         name="api-account-transactions"),
    path("api/v1/tokens/<str:token>/", api.TokenDetailView.as_view(), name="api-token"),
    re_path(r"^api/v1/(?P<path>.*)$", api.api_not_found),
]
