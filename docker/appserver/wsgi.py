"""What gunicorn serves: the app's WSGI callable (``WSGI_APP``), behind the node stack's proxy-header fix.

The app imports nothing of the node stack: whichever callable ``WSGI_APP`` names (``module:name``, or
``module:factory()`` as gunicorn takes it) is loaded here, in each worker, and wrapped in
``TrustedProxyFix`` with the proxies ``FORWARDED_ALLOW_IPS`` trusts.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, cast

from gunicorn.util import import_app

from appserver.environment import forwarded_allow_ips, trusted_proxies, wsgi_app
from appserver.proxy import TrustedProxyFix

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


def load() -> WSGIApplication:
    """The app ``WSGI_APP`` names, wrapped in ``TrustedProxyFix``."""
    trusted = trusted_proxies(forwarded_allow_ips(os.environ))
    # types-gunicorn types the loaded app with a looser environ mapping than typeshed's WSGI protocol.
    app = cast("WSGIApplication", import_app(wsgi_app(os.environ)))
    return TrustedProxyFix(app, trusted=trusted)


application = load()
