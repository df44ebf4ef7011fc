"""Trust ``X-Forwarded-*`` headers only from the proxy in front of us.

The trusted proxies are ``FORWARDED_ALLOW_IPS``, read by gunicorn's parser (``appserver.environment``), so
the app and gunicorn trust, and refuse, the same values. Plain WSGI, no framework: the node stack wraps
whatever callable ``WSGI_APP`` names (``appserver.wsgi``), Flask or not.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from appserver.environment import IPNetwork

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

#: Where the values the proxy headers replaced are kept, as werkzeug's ``ProxyFix`` keeps them.
ORIGINAL = "werkzeug.proxy_fix.orig"


def _last_hop(environ: WSGIEnvironment, header: str) -> str | None:
    """The value the nearest proxy appended to ``header`` (comma-separated): one hop is trusted, so
    anything before it came from the client and is not believed."""
    values = [part.strip() for part in environ.get(header, "").split(",")]
    return values[-1] if values[-1] else None


class TrustedProxyFix:
    """Believe ``X-Forwarded-For`` and ``-Proto`` (one proxy hop, as werkzeug's ``ProxyFix(x_for=1,
    x_proto=1)``) only when the connection comes from a trusted proxy: a peer address in ``trusted``, or a
    unix socket (no peer address), which only a process allowed into the socket's directory reaches;
    gunicorn trusts its forwarding headers by the same rule. A client that reaches gunicorn over TCP from
    elsewhere cannot spoof its address or scheme.
    """

    def __init__(self, app: WSGIApplication, *, trusted: Iterable[IPNetwork]) -> None:
        self.app = app
        self.trusted = tuple(trusted)

    def _is_trusted(self, remote_addr: str | None) -> bool:
        if not remote_addr:
            return True
        try:
            address = ipaddress.ip_address(remote_addr)
        except ValueError:
            return False
        return any(address in network for network in self.trusted)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        """Believe the forwarding headers of trusted peers only, then call the app."""
        if self._is_trusted(environ.get("REMOTE_ADDR")):
            environ[ORIGINAL] = {
                "REMOTE_ADDR": environ.get("REMOTE_ADDR"),
                "wsgi.url_scheme": environ.get("wsgi.url_scheme"),
            }
            client = _last_hop(environ, "HTTP_X_FORWARDED_FOR")
            if client:
                environ["REMOTE_ADDR"] = client
            scheme = _last_hop(environ, "HTTP_X_FORWARDED_PROTO")
            if scheme:
                environ["wsgi.url_scheme"] = scheme
        # An untrusted peer's forwarding headers describe nothing we can believe: passed on untouched.
        return self.app(environ, start_response)
