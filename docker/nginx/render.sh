#!/bin/sh
# Render the nginx configuration from the templates beside this script and the environment (README.md,
# "nginx settings"; defaults below), test it with `nginx -t`, then, if a command is given, exec it (the
# image runs `render.sh nginx -g 'daemon off;' ...`). Without one, print the configuration's path.
# -f: lists (SERVER_NAME, TRUSTED_PROXY_CIDRS) are split into words, and a '*' in them is no file pattern.
set -euf

TEMPLATE_DIR=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)

# Exit 64 (EX_USAGE, sysexits.h) for every refused setting, whether refused here or by nginx -t.
fail() {
    echo "render.sh: $*" >&2
    exit 64
}

is_positive_int() {
    case "$1" in
        '' | *[!0-9]* | 0*) return 1 ;;
    esac
}

# NAME VALUE [SEPARATORS]: the value is written into the configuration as it stands, so a space, ';',
# brace, quote, '$' or '#' would end its directive or add to it, and nginx may well accept the result.
plain() {
    allowed="letters, digits and _ . : / @ + * [ ] -"
    [ -z "${3-}" ] || allowed="$allowed, with '$3' between items"
    case "$2" in
        *[!]A-Za-z0-9_.:/@+*["${3-}"-]*) fail "$1='$2': expected $allowed" ;;
    esac
}

# NAME VALUE: nginx resolves a relative path against its prefix or the configuration's directory, not
# the directory render.sh runs in, and takes it.
absolute() {
    case "$2" in
        /*) ;;
        *) fail "$1='$2': expected an absolute path" ;;
    esac
}

: "${NGINX_MODE:=edge}"
: "${SERVER_NAME:=localhost}"
: "${LISTEN_ADDRESS:=0.0.0.0}"
: "${HTTP_PORT:=8080}"
: "${HTTPS_PORT:=8443}"
: "${PUBLIC_HTTPS_PORT:=443}"
# gunicorn's default socket (docker/appserver/environment.py SOCKET, tested equal).
: "${UPSTREAM:=unix:/run/gunicorn/gunicorn.sock}"
: "${STATIC_ROOT:=/srv/static}"
: "${RATE_LIMIT:=20}"
: "${RATE_LIMIT_BURST:=40}"
: "${NGINX_RUNTIME_DIR:=/tmp/nginx}"
: "${NGINX_ACCESS_LOG:=/dev/stdout}"
: "${NGINX_ERROR_LOG:=stderr}"
: "${NGINX_WORKER_PROCESSES:=auto}"
: "${NGINX_WORKER_CONNECTIONS:=4096}"
: "${NGINX_UPSTREAM_KEEPALIVE:=32}"
# The TLS port's accept queue: the node's net.core.somaxconn (infra/user_data.py SOMAXCONN, tested equal).
: "${NGINX_BACKLOG:=16384}"
: "${NGINX_MIME_TYPES:=/etc/nginx/mime.types}"
: "${TRUSTED_PROXY_CIDRS:=}"
: "${NGINX_ALLOCATOR:=jemalloc}"

# Checked here: what render.sh itself uses, and values nginx would take but misread. nginx -t, after
# rendering, refuses the rest in its own words (directive, file and line).
primary_name=${SERVER_NAME%% *}
cidrs=''
case "$NGINX_MODE" in
    edge)
        servers_template=edge.conf.template
        : "${TLS_SELF_SIGNED:=false}"
        : "${TLS_CERT:=/etc/letsencrypt/live/$primary_name/fullchain.pem}"
        : "${TLS_KEY:=/etc/letsencrypt/live/$primary_name/privkey.pem}"
        ;;
    behind-alb)
        servers_template=behind-alb.conf.template
        : "${TLS_SELF_SIGNED:=true}"
        : "${TLS_CERT:=$NGINX_RUNTIME_DIR/tls/node.crt}"
        : "${TLS_KEY:=$NGINX_RUNTIME_DIR/tls/node.key}"
        [ -n "$TRUSTED_PROXY_CIDRS" ] ||
            fail "TRUSTED_PROXY_CIDRS is required in behind-alb mode: the CIDRs the ALB connects from (the VPC), e.g. 10.0.0.0/16"
        plain TRUSTED_PROXY_CIDRS "$TRUSTED_PROXY_CIDRS" ', '
        cidrs=$(echo "$TRUSTED_PROXY_CIDRS" | tr ',' ' ')
        # nginx takes a bare address as /32 (/128): a CIDR typed without its length would trust one host.
        for cidr in $cidrs; do
            case "$cidr" in
                */*) ;;
                *) fail "TRUSTED_PROXY_CIDRS='$TRUSTED_PROXY_CIDRS': '$cidr' has no prefix length (expected e.g. 10.0.0.0/16 or fd00::/8)" ;;
            esac
        done
        ;;
    *) fail "NGINX_MODE='$NGINX_MODE': expected 'edge' or 'behind-alb'" ;;
esac
case "$TLS_SELF_SIGNED" in
    true | false) ;;
    *) fail "TLS_SELF_SIGNED='$TLS_SELF_SIGNED': expected 'true' or 'false'" ;;
esac

plain SERVER_NAME "$SERVER_NAME" ' '
for name in LISTEN_ADDRESS HTTP_PORT HTTPS_PORT PUBLIC_HTTPS_PORT UPSTREAM STATIC_ROOT RATE_LIMIT \
    RATE_LIMIT_BURST NGINX_RUNTIME_DIR NGINX_ACCESS_LOG NGINX_ERROR_LOG NGINX_WORKER_PROCESSES \
    NGINX_WORKER_CONNECTIONS NGINX_UPSTREAM_KEEPALIVE NGINX_BACKLOG NGINX_MIME_TYPES TLS_CERT TLS_KEY; do
    eval "plain $name \"\$$name\""
done
for name in STATIC_ROOT NGINX_RUNTIME_DIR NGINX_ACCESS_LOG NGINX_MIME_TYPES TLS_CERT TLS_KEY; do
    eval "absolute $name \"\$$name\""
done
case "$NGINX_ERROR_LOG" in
    stderr | /*) ;;
    *) fail "NGINX_ERROR_LOG='$NGINX_ERROR_LOG': expected stderr or an absolute path" ;;
esac
# nginx takes a relative socket path and fails only on each request.
case "$UPSTREAM" in
    unix:/*) ;;
    unix:*) fail "UPSTREAM='$UPSTREAM': expected unix:/absolute/path or HOST:PORT" ;;
esac
# nginx looks under alias only when a request asks (a 404).
[ -d "$STATIC_ROOT" ] || fail "STATIC_ROOT='$STATIC_ROOT': no such directory"
# Text in the redirect's URL: nginx never reads it as a port.
{ is_positive_int "$PUBLIC_HTTPS_PORT" && [ "$PUBLIC_HTTPS_PORT" -le 65535 ]; } 2>/dev/null ||
    fail "PUBLIC_HTTPS_PORT='$PUBLIC_HTTPS_PORT': expected a port number from 1 to 65535"
# Doubled below for worker_rlimit_nofile: shell arithmetic needs a number.
is_positive_int "$NGINX_WORKER_CONNECTIONS" ||
    fail "NGINX_WORKER_CONNECTIONS='$NGINX_WORKER_CONNECTIONS': expected a whole number >= 1"
# nginx takes worker_processes 0 and then starts no worker to accept connections.
[ "$NGINX_WORKER_PROCESSES" = auto ] || is_positive_int "$NGINX_WORKER_PROCESSES" ||
    fail "NGINX_WORKER_PROCESSES='$NGINX_WORKER_PROCESSES': expected 'auto' or a whole number >= 1"

# glibc keeps the memory a burst of TLS handshakes freed; jemalloc hands it back to the kernel
# (docs/benchmarks.md, sections 5 and 7).
case "$NGINX_ALLOCATOR" in
    jemalloc)
        jemalloc=$(PATH="$PATH:/usr/sbin:/sbin" ldconfig -p | awk '$1 == "libjemalloc.so.2" { print $NF; exit }')
        [ -n "$jemalloc" ] ||
            fail "NGINX_ALLOCATOR=jemalloc: libjemalloc.so.2 is not installed (Debian package libjemalloc2); install it or set NGINX_ALLOCATOR=glibc"
        ;;
    glibc) jemalloc='' ;;
    *) fail "NGINX_ALLOCATOR='$NGINX_ALLOCATOR': expected 'jemalloc' or 'glibc'" ;;
esac

NGINX_WORKER_RLIMIT_NOFILE=$((NGINX_WORKER_CONNECTIONS * 2))
HTTPS_REDIRECT_PORT=":$PUBLIC_HTTPS_PORT"
[ "$PUBLIC_HTTPS_PORT" != 443 ] || HTTPS_REDIRECT_PORT=''
# nginx's `keepalive` takes 1 or more: 0 leaves the directive out.
UPSTREAM_KEEPALIVE="keepalive $NGINX_UPSTREAM_KEEPALIVE;"
[ "$NGINX_UPSTREAM_KEEPALIVE" != 0 ] ||
    UPSTREAM_KEEPALIVE="# NGINX_UPSTREAM_KEEPALIVE=0: no idle connections kept, a new one per request."

mkdir -p "$NGINX_RUNTIME_DIR" 2>/dev/null ||
    fail "NGINX_RUNTIME_DIR='$NGINX_RUNTIME_DIR': cannot create the directory (it must be writable by user $(id -u))"

if [ "$TLS_SELF_SIGNED" = true ] && { [ ! -s "$TLS_CERT" ] || [ ! -s "$TLS_KEY" ]; }; then
    mkdir -p "$(dirname -- "$TLS_CERT")" "$(dirname -- "$TLS_KEY")"
    san="IP:127.0.0.1"
    for name in $SERVER_NAME; do
        san="$san,DNS:$name"
    done
    (
        umask 077
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 -nodes -days 365 \
            -subj "/CN=$primary_name" -addext "subjectAltName=$san" \
            -keyout "$TLS_KEY" -out "$TLS_CERT" 2>/dev/null
    ) || fail "could not create a self-signed certificate at TLS_CERT='$TLS_CERT' / TLS_KEY='$TLS_KEY'"
    chmod 0644 "$TLS_CERT"
fi

# Trusted proxies: realip and the geo map that gates X-Forwarded-Proto. Empty in edge mode.
{
    echo "# Rendered by render.sh: peers whose X-Forwarded-For/-Proto are believed."
    for cidr in $cidrs; do
        echo "set_real_ip_from $cidr;"
    done
    if [ -n "$cidrs" ]; then
        echo "real_ip_header X-Forwarded-For;"
        echo "real_ip_recursive on;"
    fi
    # shellcheck disable=SC2016 # nginx variables, written literally
    echo 'geo $realip_remote_addr $from_trusted_proxy {'
    echo '    default 0;'
    for cidr in $cidrs; do
        echo "    $cidr 1;"
    done
    echo '}'
} >"$NGINX_RUNTIME_DIR/trusted-proxies.conf"

export NGINX_MODE SERVER_NAME LISTEN_ADDRESS HTTP_PORT HTTPS_PORT HTTPS_REDIRECT_PORT UPSTREAM STATIC_ROOT \
    RATE_LIMIT RATE_LIMIT_BURST NGINX_RUNTIME_DIR NGINX_ACCESS_LOG NGINX_ERROR_LOG NGINX_WORKER_PROCESSES \
    NGINX_WORKER_CONNECTIONS NGINX_WORKER_RLIMIT_NOFILE NGINX_MIME_TYPES TLS_CERT TLS_KEY UPSTREAM_KEEPALIVE \
    NGINX_BACKLOG
# Only these variables are substituted: nginx's own $variables pass through untouched.
# shellcheck disable=SC2016 # envsubst's list of names, not an expansion
variables='${NGINX_MODE} ${SERVER_NAME} ${LISTEN_ADDRESS} ${HTTP_PORT} ${HTTPS_PORT} ${HTTPS_REDIRECT_PORT}
${UPSTREAM} ${STATIC_ROOT} ${RATE_LIMIT} ${RATE_LIMIT_BURST} ${NGINX_RUNTIME_DIR} ${NGINX_ACCESS_LOG}
${NGINX_ERROR_LOG} ${NGINX_WORKER_PROCESSES} ${NGINX_WORKER_CONNECTIONS} ${NGINX_WORKER_RLIMIT_NOFILE}
${NGINX_MIME_TYPES} ${TLS_CERT} ${TLS_KEY} ${UPSTREAM_KEEPALIVE} ${NGINX_BACKLOG}'

render() {
    envsubst "$variables" <"$TEMPLATE_DIR/$1" >"$NGINX_RUNTIME_DIR/$2"
}

render nginx.conf.template nginx.conf
render tls.conf.template tls.conf
render security-headers.conf.template security-headers.conf
render proxy.conf.template proxy.conf
render locations.conf.template locations.conf
render healthz.conf.template healthz.conf
render "$servers_template" servers.conf

# The proxy image's command's arguments (docker/Dockerfile) and its stdout, so the test opens what the
# real start will; -e stderr also keeps an unprivileged nginx off its built-in error log. The rendered
# files stay for inspection: nginx's message names the file and line.
if ! refusal=$(nginx -t -q -e stderr -c "$NGINX_RUNTIME_DIR/nginx.conf" -g 'daemon off;' 2>&1 >&3); then
    emerg=$(printf '%s\n' "$refusal" | sed -n 's/^.*\[emerg\] \([0-9]*#[0-9]*: \)\{0,1\}//p' | head -n 1)
    fail "nginx -t refuses the rendered configuration: ${emerg:-$refusal}"
fi 3>&1

if [ "$#" -gt 0 ]; then
    if [ -n "$jemalloc" ]; then
        # Freed pages go back to the kernel after a second, not jemalloc's default ten: nginx's memory
        # falls back soon after a burst of connections (docs/benchmarks.md, section 7).
        export LD_PRELOAD="$jemalloc" MALLOC_CONF="${MALLOC_CONF:-dirty_decay_ms:1000,muzzy_decay_ms:0}"
    fi
    exec "$@"
fi
echo "$NGINX_RUNTIME_DIR/nginx.conf"
