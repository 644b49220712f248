"""Daphne's HTTP requests, built without Twisted's form parsing.

Twisted's request parses the body of every POST that has a Content-Type into `request.args` (form fields), and
reads the Content-Type with the standard library's e-mail header parser to decide: about a sixth of a server's
event-loop time under order load, spent on a result nothing reads. Daphne hands an ASGI application the raw body
and never reads `request.args`; Django parses forms itself. So each request is built with Twisted's own switch
for this, `parsePOSTFormSubmission=False`.
"""

from __future__ import annotations

from daphne import http_protocol


class FormlessRequest(http_protocol.WebRequest):
    def __init__(self, *args, **kwargs):
        kwargs["parsePOSTFormSubmission"] = False
        super().__init__(*args, **kwargs)


def install() -> None:
    """Make Daphne's connections build FormlessRequests (its factory names the request class at each
    connection). Safe to call more than once."""
    http_protocol.WebRequest = FormlessRequest
