"""Daphne's requests are built without Twisted's form parsing (gridtokenx.http_server): bodies still reach Django
whole, whatever their Content-Type, and Django parses forms itself."""

import re

import httpx
from django.contrib.auth.models import User

from gridtokenx.http_server import FormlessRequest
from oracle.benchmarks import HEADERS, servers_running


def test_requests_skip_twisteds_form_parsing():
    from daphne.http_protocol import HTTPFactory

    import gridtokenx.asgi  # noqa: F401 - installs the request class, as a server's start does

    # Each connection Daphne accepts builds its requests with the class its factory names.
    protocol = HTTPFactory(server=None).buildProtocol(("127.0.0.1", 0))
    assert protocol.requestFactory is FormlessRequest


def test_a_form_login_and_a_json_post_through_a_real_server(ledger):
    User.objects.create_user("farmer", password="a long enough password 1")
    with (servers_running(1, log=lambda message: None) as [server],
          httpx.Client(base_url=server.url, headers=HEADERS, timeout=10.0) as client):
        page = client.get("/dashboard/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        # The requests say they came through an HTTPS proxy (X-Forwarded-Proto), so with production settings the
        # CSRF cookie is marked Secure, which this plain-HTTP client keeps to itself: it is sent back by hand, with
        # the HTTPS referer Django then asks for.
        cookie = re.search(r"csrftoken=([^;]+)", page.headers["set-cookie"]).group(1)
        referer = server.url.replace("http://", "https://") + "/dashboard/login/"
        # Form-encoded, with a charset parameter: Django reads the fields from the body Daphne hands over.
        answer = client.post("/dashboard/login/", content=f"csrfmiddlewaretoken={token}&username=farmer"
                             "&password=a+long+enough+password+1",
                             headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                                      "Referer": referer, "Cookie": f"csrftoken={cookie}"})
        assert answer.status_code == 302 and "sessionid" in client.cookies, answer.text[:500]
        # JSON, whole, to the JSON-RPC endpoint; and JSON cut short, which it calls a parse error.
        call = client.post("/rpc", content=b'{"jsonrpc": "2.0", "id": 7, "method": "getBlockHeight"}',
                           headers={"Content-Type": "application/json"})
        assert call.status_code == 200 and call.json()["id"] == 7 and call.json()["result"] >= 0
        cut = client.post("/rpc", content=b'{"jsonrpc": "2.0", "id": 7', headers={"Content-Type": "application/json"})
        assert cut.json()["error"]["code"] == -32700
