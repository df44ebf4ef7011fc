"""One parser for each variable the app image reads from its environment.

Each refuses a value it cannot run with by raising ``BadSetting``, whose message is one line naming the
variable, the value and what is allowed.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

SOCKET = "/run/gunicorn/gunicorn.sock"
"""Where gunicorn listens by default: a unix socket in a directory only the node stack's user (1001) can
enter, shared with the proxy container (infra/user_data.py). nginx reaches it; nothing else can."""
#: The kernel's limit on a unix socket's path (sun_path, 108 bytes with its terminating NUL).
MAX_SOCKET_PATH = 107
WORKER_CLASSES = ("gevent", "sync", "gthread")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
#: ``FORWARDED_ALLOW_IPS`` when unset: the loopback nginx runs on (gunicorn's own default is IPv4 only).
LOOPBACK_PROXIES = "127.0.0.1,::1"
#: What ``*`` in ``FORWARDED_ALLOW_IPS`` stands for: every peer, as in gunicorn.
EVERY_PEER = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))
KEEPALIVE_QUEUE_MS = 1000
#: ``WSGI_APP`` when unset: the callable ``app`` in the app directory's ``wsgi.py``.
DEFAULT_WSGI_APP = "wsgi:app"
#: ``module:name`` or ``module:factory()`` (gunicorn's forms, without a factory's arguments): dotted names.
WSGI_APP_PATTERN = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(?:\(\))?")


class BadSetting(ValueError):
    """A value from the environment that the app image cannot run with; the message names the variable,
    the value and what is allowed."""


def positive_int(env: Mapping[str, str], key: str, default: int) -> int:
    """``key`` as a whole number >= 1; ``default`` when it is unset or empty."""
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadSetting(f"{key}={raw!r}: expected a whole number >= 1") from None
    if value < 1:
        raise BadSetting(f"{key}={raw!r}: expected a whole number >= 1")
    return value


def switch(env: Mapping[str, str], key: str, default: str) -> bool:
    """An ``on``/``off`` setting: whether ``key`` (unset or empty: ``default``) is on."""
    value = env.get(key) or default
    if value not in ("on", "off"):
        raise BadSetting(f"{key}={value!r}: expected on or off")
    return value == "on"


def web_concurrency(env: Mapping[str, str], default: int) -> int:
    """``WEB_CONCURRENCY``: the worker count [``default``]. Set but empty is refused: gunicorn parses the
    variable itself too, with ``int()`` (serve.py), and an empty one ends it."""
    if env.get("WEB_CONCURRENCY") == "":
        raise BadSetting("WEB_CONCURRENCY='': expected a whole number >= 1")
    return positive_int(env, "WEB_CONCURRENCY", default)


def _bind_address(raw: str) -> str:
    if raw.startswith("unix:"):
        path = raw.removeprefix("unix:")
        if not path.startswith("/"):
            raise BadSetting(f"GUNICORN_BIND: {raw!r}: expected an absolute path after 'unix:'")
        if len(os.fsencode(path)) > MAX_SOCKET_PATH:
            raise BadSetting(
                f"GUNICORN_BIND: {raw!r}: a unix socket's path is at most {MAX_SOCKET_PATH} bytes"
            )
        return raw
    host, _, port = raw.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise BadSetting(f"GUNICORN_BIND: {raw!r}: expected unix:/absolute/path or HOST:PORT (port 1-65535)")
    return raw


def gunicorn_bind(env: Mapping[str, str]) -> tuple[str, ...]:
    """``GUNICORN_BIND``: comma-separated ``unix:/path`` or ``HOST:PORT`` addresses [``unix:SOCKET``]."""
    raw = env.get("GUNICORN_BIND") or f"unix:{SOCKET}"
    return tuple(_bind_address(entry.strip()) for entry in raw.split(","))


def gunicorn_worker_class(env: Mapping[str, str]) -> str:
    """``GUNICORN_WORKER_CLASS``: one of ``WORKER_CLASSES`` [``gevent``]."""
    value = env.get("GUNICORN_WORKER_CLASS", "gevent")
    if value not in WORKER_CLASSES:
        raise BadSetting(f"GUNICORN_WORKER_CLASS={value!r}: expected one of {', '.join(WORKER_CLASSES)}")
    return value


def gunicorn_log_level(env: Mapping[str, str]) -> str:
    """``GUNICORN_LOG_LEVEL``: one of ``LOG_LEVELS``, in any case [``info``]. gunicorn itself silently takes
    any other word for ``info``."""
    value = env.get("GUNICORN_LOG_LEVEL") or "info"
    if value.lower() not in LOG_LEVELS:
        raise BadSetting(f"GUNICORN_LOG_LEVEL={value!r}: expected one of {', '.join(LOG_LEVELS)}")
    return value.lower()


def gunicorn_keepalive_queue_seconds(env: Mapping[str, str]) -> float | None:
    """``GUNICORN_KEEPALIVE_QUEUE_MS``: how long connections may wait in the accept queue before workers
    stop keeping connections alive, in milliseconds [``KEEPALIVE_QUEUE_MS``], as seconds; ``off``: never
    (None)."""
    raw = env.get("GUNICORN_KEEPALIVE_QUEUE_MS") or str(KEEPALIVE_QUEUE_MS)
    if raw == "off":
        return None
    if not raw.isdecimal() or int(raw) < 1:
        raise BadSetting(
            f"GUNICORN_KEEPALIVE_QUEUE_MS={raw!r}: expected milliseconds (a whole number >= 1) or off"
        )
    return int(raw) / 1000


def trusted_proxies(value: str) -> tuple[IPNetwork, ...]:
    """The networks a ``FORWARDED_ALLOW_IPS`` value names, by gunicorn's rule (its
    ``validate_string_to_addr_list``, not imported: importing gunicorn's config module parses
    ``WEB_CONCURRENCY`` with ``int()``): comma-separated IP addresses or networks with no host bits set,
    or ``*`` for every peer. gunicorn's own message for a bad one names the value, not the variable."""
    networks: list[IPNetwork] = []
    try:
        for entry in [part.strip() for part in value.strip().split(",") if part]:
            networks.extend(EVERY_PEER if entry == "*" else [ipaddress.ip_network(entry)])
    except ValueError as error:
        raise BadSetting(
            f"FORWARDED_ALLOW_IPS={value!r}: {error}; expected comma-separated IP addresses or networks "
            "such as 127.0.0.1,::1 or 10.0.0.0/16, or *"
        ) from None
    return tuple(networks)


def forwarded_allow_ips(env: Mapping[str, str]) -> str:
    """``FORWARDED_ALLOW_IPS`` [``LOOPBACK_PROXIES``], checked by ``trusted_proxies``, as gunicorn takes it:
    the TCP peers whose ``X-Forwarded-*`` headers gunicorn and the app believe."""
    value = env.get("FORWARDED_ALLOW_IPS", LOOPBACK_PROXIES)
    trusted_proxies(value)
    return value


def wsgi_app(env: Mapping[str, str]) -> str:
    """``WSGI_APP``: the app's WSGI callable, ``module:name`` or ``module:factory()`` [``DEFAULT_WSGI_APP``],
    imported from the app's directory (the image's working directory)."""
    value = env.get("WSGI_APP") or DEFAULT_WSGI_APP
    if not WSGI_APP_PATTERN.fullmatch(value):
        raise BadSetting(f"WSGI_APP={value!r}: expected module:name or module:factory(), such as wsgi:app")
    return value
