"""The shipped settings the benchmarks justify, each with how to take it back for its before and after."""

from __future__ import annotations

from dataclasses import dataclass

from bench.cores import CORES
from infra.user_data import SOMAXCONN
from nodestack.nginx import KEEPALIVE_SHIPPED


@dataclass(frozen=True)
class Tuning:
    """A shipped setting the measurements justify, and how to take it back for its before/after."""

    name: str
    #: (template, shipped text, text before the tuning) in docker/nginx.
    edits: tuple[tuple[str, str, str], ...] = ()
    #: gunicorn's environment before the tuning, as (variable, value) pairs.
    gunicorn_env: tuple[tuple[str, str], ...] = ()
    #: render.sh's (nginx's) environment before the tuning, as (variable, value) pairs.
    nginx_env: tuple[tuple[str, str], ...] = ()
    #: Before the tuning, nginx reached gunicorn over TCP on loopback instead of its unix socket.
    tcp_upstream: bool = False
    #: The tuning changes gunicorn on its own (its workers): section 2 also runs the path from the stack
    #: without it to its gunicorn directly, so each worker count is compared with itself.
    gunicorn_direct: bool = False
    #: Without it the client speaks plain HTTP to nginx (its edits make the plain HTTP port serve).
    plain_http: bool = False


OPEN_FILE_CACHE = Tuning(
    "open_file_cache",
    edits=(("locations.conf.template", "    open_file_cache max=1000 inactive=60s;\n", ""),),
)
LOG_BUFFER = Tuning(
    "buffered access log", edits=(("nginx.conf.template", " main buffer=64k flush=1s;", " main;"),)
)
STATIC_HITS_UNLOGGED = Tuning(
    "static hits not logged",
    edits=(
        (
            "locations.conf.template",
            "    access_log ${NGINX_ACCESS_LOG} main buffer=64k flush=1s if=$static_miss;\n",
            "",
        ),
    ),
)
KEEPALIVE_REQUESTS = Tuning(
    "keepalive_requests 10000",
    edits=(("nginx.conf.template", "    keepalive_requests 10000;\n", "    keepalive_requests 1000;\n"),),
)
HEADER_TIMEOUT = Tuning(
    "client_header_timeout 60s",
    edits=(("nginx.conf.template", "client_header_timeout 60s;", "client_header_timeout 10s;"),),
)
SSL_BUFFER = Tuning("ssl_buffer_size 4k", edits=(("tls.conf.template", "ssl_buffer_size 4k;\n", ""),))
MAX_REQUESTS = Tuning("max_requests 50000", gunicorn_env=(("GUNICORN_MAX_REQUESTS", "2000"),))
#: The accept queues before the tuning: gunicorn's own default backlog, and nginx's on Linux.
GUNICORN_DEFAULT_BACKLOG = "2048"
NGINX_DEFAULT_BACKLOG = "511"
#: Both servers ask for the node's net.core.somaxconn (their defaults are tested equal to it).
BACKLOG = Tuning(
    f"gunicorn backlog {SOMAXCONN}", gunicorn_env=(("GUNICORN_BACKLOG", GUNICORN_DEFAULT_BACKLOG),)
)
JEMALLOC = Tuning("jemalloc", nginx_env=(("NGINX_ALLOCATOR", "glibc"),))
UNIX_SOCKET = Tuning("upstream over a unix socket", tcp_upstream=True)
UPSTREAM_KEEPALIVE = Tuning("upstream keep-alive", nginx_env=(("NGINX_UPSTREAM_KEEPALIVE", "0"),))
#: The fewer idle connections to gunicorn each nginx worker kept before gunicorn closed kept connections
#: once its accept queue backs up (KEEPALIVE_SHIPPED now).
KEEPALIVE_FEWER = "2"
KEEPALIVE_POOL = Tuning(
    f"upstream keep-alive {KEEPALIVE_SHIPPED}, not {KEEPALIVE_FEWER}",
    nginx_env=(("NGINX_UPSTREAM_KEEPALIVE", KEEPALIVE_FEWER),),
)
QUEUE_CLOSE = Tuning(
    "kept connections closed when gunicorn's queue backs up",
    gunicorn_env=(("GUNICORN_KEEPALIVE_QUEUE_MS", "off"),),
)
NGINX_ONLY_ACCESS_LOG = Tuning("nginx as the only access log", gunicorn_env=(("GUNICORN_ACCESS_LOG", "on"),))
SHARED_LIBRARIES = Tuning(
    "libraries shared by gunicorn's workers", gunicorn_env=(("GUNICORN_SHARED_LIBRARIES", "off"),)
)
#: Not a setting to take back: TLS to the client is what edge mode is for. Measured without it to tell
#: what TLS costs (nginx's, on the server's core, and the client's, on the load generator's) from what the
#: trip through nginx costs.
TLS = Tuning(
    "TLS (plain HTTP to nginx)",
    edits=(
        (
            "edge.conf.template",
            "    return 301 https://$host${HTTPS_REDIRECT_PORT}$request_uri;\n",
            "    include ${NGINX_RUNTIME_DIR}/locations.conf;\n",
        ),
    ),
    plain_http=True,
)
NGINX_BACKLOG = Tuning(f"nginx backlog {SOMAXCONN}", nginx_env=(("NGINX_BACKLOG", NGINX_DEFAULT_BACKLOG),))

#: The other worker count of sections 2, 4 and 5: one gevent worker per server core, plus one.
FEWER_WORKERS = len(CORES.server) + 1
#: Section 2's stack with ``FEWER_WORKERS`` instead of the default 2 x cores + 1, also measured
#: directly: gunicorn itself answers differently with fewer workers.
WORKER_COUNT = Tuning(
    "2 x cores + 1 workers",
    gunicorn_env=(("WEB_CONCURRENCY", str(FEWER_WORKERS)),),
    gunicorn_direct=True,
)
