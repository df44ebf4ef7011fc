"""Trust ``X-Forwarded-*`` headers only from the proxy in front of us.

The trusted proxies are ``FORWARDED_ALLOW_IPS``, read by gunicorn's parser (``appserver.environment``), so
the app and gunicorn trust, and refuse, the same values.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.middleware.proxy_fix import ProxyFix

from appserver.environment import IPNetwork

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class TrustedProxyFix:
    """Apply werkzeug's ``ProxyFix`` (one proxy hop, ``X-Forwarded-For`` and ``-Proto``) only when the
    connection comes from a trusted proxy: a peer address in ``trusted``, or a unix socket (no peer
    address), which only a process allowed into the socket's directory reaches; gunicorn trusts its
    forwarding headers by the same rule. A client that reaches gunicorn over TCP from elsewhere cannot
    spoof its address or scheme.
    """

    def __init__(self, app: WSGIApplication, *, trusted: Iterable[IPNetwork]) -> None:
        self.app = app
        self.trusted = tuple(trusted)
        self.proxied = ProxyFix(app, x_for=1, x_proto=1)

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
            return self.proxied(environ, start_response)
        # Untrusted peer: the forwarding headers it sent describe nothing we can believe.
        return self.app(environ, start_response)
