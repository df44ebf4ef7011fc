#!/bin/sh
# Render the nginx configuration from the templates beside this script and the environment, then,
# if a command is given, exec it (the image runs `render.sh nginx -g 'daemon off;' ...`).
#
# Environment (defaults in brackets):
#   NGINX_MODE            edge | behind-alb [edge]
#   SERVER_NAME           names this site answers to, space-separated [localhost]
#   LISTEN_ADDRESS        address to listen on [0.0.0.0]
#   HTTP_PORT             plain HTTP port, edge mode only [8080]
#   HTTPS_PORT            TLS port [8443]
#   PUBLIC_HTTPS_PORT     port clients reach HTTPS on, used in redirects [443]
#   TLS_CERT, TLS_KEY     certificate chain and key [edge: Let's Encrypt's live/<first name>/ layout;
#                         behind-alb: a certificate made at start in $NGINX_RUNTIME_DIR/tls]
#   TLS_SELF_SIGNED       make a self-signed certificate at TLS_CERT/TLS_KEY if absent
#                         [true in behind-alb mode, false in edge mode]
#   TRUSTED_PROXY_CIDRS   comma-separated CIDRs whose X-Forwarded-For/-Proto are believed;
#                         required in behind-alb mode (the VPC), unused in edge mode
#   UPSTREAM              gunicorn's address: unix:/path or HOST:PORT [unix:/run/gunicorn/gunicorn.sock]
#   STATIC_ROOT           directory served at /static/ [/srv/static]
#   RATE_LIMIT            requests per second per client [20]
#   RATE_LIMIT_BURST      requests above the rate absorbed before 429 [40]
#   NGINX_RUNTIME_DIR     where the rendered config, pid and temp files go [/tmp/nginx]
#   NGINX_ACCESS_LOG      [/dev/stdout]   NGINX_ERROR_LOG [stderr]
#   NGINX_WORKER_PROCESSES [auto]         NGINX_WORKER_CONNECTIONS [4096]
#   NGINX_UPSTREAM_KEEPALIVE  idle connections each nginx worker keeps to gunicorn; 0: a new
#                         connection per request [32]
#   NGINX_MIME_TYPES      [/etc/nginx/mime.types]
#   NGINX_ALLOCATOR       jemalloc | glibc: the malloc the command runs with [jemalloc]
set -eu

TEMPLATE_DIR=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)

fail() {
    echo "render.sh: $*" >&2
    exit 64
}

is_port() {
    case "$1" in
        '' | *[!0-9]*) return 1 ;;
    esac
    [ "$1" -ge 1 ] && [ "$1" -le 65535 ]
}

is_positive_int() {
    case "$1" in
        '' | *[!0-9]* | 0*) return 1 ;;
    esac
}

require_port() {
    is_port "$2" || fail "$1='$2': expected a port number from 1 to 65535"
}

require_positive_int() {
    is_positive_int "$2" || fail "$1='$2': expected a whole number >= 1"
}

# An address for nginx's `server` directive: it lands in the config, so no spaces, ';' or braces.
is_upstream() {
    case "$1" in
        *[!]A-Za-z0-9_./:[-]*) return 1 ;;
        unix:/*) ;;
        ?*:*) is_port "${1##*:}" ;;
        *) return 1 ;;
    esac
}

is_ipv4() {
    echo "$1" | grep -Eq '^(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])){3}$'
}

# Hex digits and colons (and dots, for an embedded IPv4 address), with at least one colon.
is_ipv6() {
    case "$1" in
        *:*) ;;
        *) return 1 ;;
    esac
    case "$1" in
        *[!0-9A-Fa-f:.]*) return 1 ;;
    esac
}

is_cidr() {
    case "$1" in
        */*) ;;
        *) return 1 ;;
    esac
    address=${1%/*}
    bits=${1##*/}
    case "$bits" in
        '' | *[!0-9]*) return 1 ;;
    esac
    case "$address" in
        *:*) [ "$bits" -le 128 ] && is_ipv6 "$address" ;;
        *) [ "$bits" -le 32 ] && is_ipv4 "$address" ;;
    esac
}

# An address for nginx's `listen`: IPv4, IPv6 in brackets, or * (every IPv4 address).
is_listen_address() {
    case "$1" in
        '*') ;;
        \[*\])
            inner=${1#\[}
            is_ipv6 "${inner%\]}"
            ;;
        *) is_ipv4 "$1" ;;
    esac
}

# A path nginx's configuration takes unquoted: absolute, and no spaces, ';', braces, quotes or '$'.
is_path() {
    case "$1" in
        /*) ;;
        *) return 1 ;;
    esac
    case "$1" in
        *[!A-Za-z0-9_./@+-]*) return 1 ;;
    esac
}

: "${NGINX_MODE:=edge}"
: "${SERVER_NAME:=localhost}"
: "${LISTEN_ADDRESS:=0.0.0.0}"
: "${HTTP_PORT:=8080}"
: "${HTTPS_PORT:=8443}"
: "${PUBLIC_HTTPS_PORT:=443}"
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
: "${NGINX_MIME_TYPES:=/etc/nginx/mime.types}"
: "${TRUSTED_PROXY_CIDRS:=}"
: "${NGINX_ALLOCATOR:=jemalloc}"

primary_name=${SERVER_NAME%% *}
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
        ;;
    *) fail "NGINX_MODE='$NGINX_MODE': expected 'edge' or 'behind-alb'" ;;
esac

[ -n "$primary_name" ] || fail "SERVER_NAME='$SERVER_NAME': expected one or more host names"
case "$SERVER_NAME" in
    *[!A-Za-z0-9.*\ _-]*) fail "SERVER_NAME='$SERVER_NAME': expected host names (letters, digits, '.', '-', '*') separated by spaces" ;;
esac
require_port HTTP_PORT "$HTTP_PORT"
require_port HTTPS_PORT "$HTTPS_PORT"
require_port PUBLIC_HTTPS_PORT "$PUBLIC_HTTPS_PORT"
require_positive_int RATE_LIMIT "$RATE_LIMIT"
require_positive_int RATE_LIMIT_BURST "$RATE_LIMIT_BURST"
require_positive_int NGINX_WORKER_CONNECTIONS "$NGINX_WORKER_CONNECTIONS"
# nginx's `keepalive` takes 1 or more: 0 leaves the directive out.
if [ "$NGINX_UPSTREAM_KEEPALIVE" = 0 ]; then
    UPSTREAM_KEEPALIVE="# NGINX_UPSTREAM_KEEPALIVE=0: no idle connections kept, a new one per request."
elif is_positive_int "$NGINX_UPSTREAM_KEEPALIVE"; then
    UPSTREAM_KEEPALIVE="keepalive $NGINX_UPSTREAM_KEEPALIVE;"
else
    fail "NGINX_UPSTREAM_KEEPALIVE='$NGINX_UPSTREAM_KEEPALIVE': expected 0 (a new connection per request) or a whole number >= 1"
fi
[ "$NGINX_WORKER_PROCESSES" = auto ] || is_positive_int "$NGINX_WORKER_PROCESSES" ||
    fail "NGINX_WORKER_PROCESSES='$NGINX_WORKER_PROCESSES': expected 'auto' or a whole number >= 1"
case "$TLS_SELF_SIGNED" in
    true | false) ;;
    *) fail "TLS_SELF_SIGNED='$TLS_SELF_SIGNED': expected 'true' or 'false'" ;;
esac
is_upstream "$UPSTREAM" ||
    fail "UPSTREAM='$UPSTREAM': expected unix:/absolute/path or HOST:PORT (port 1-65535)"
[ -d "$STATIC_ROOT" ] || fail "STATIC_ROOT='$STATIC_ROOT': no such directory"
is_listen_address "$LISTEN_ADDRESS" ||
    fail "LISTEN_ADDRESS='$LISTEN_ADDRESS': expected an IPv4 address (0.0.0.0 or *: every one), or an IPv6 address in brackets ([::])"
path_chars="letters, digits and _ . / @ + -"
is_path "$NGINX_RUNTIME_DIR" ||
    fail "NGINX_RUNTIME_DIR='$NGINX_RUNTIME_DIR': expected an absolute path ($path_chars)"
is_path "$NGINX_ACCESS_LOG" ||
    fail "NGINX_ACCESS_LOG='$NGINX_ACCESS_LOG': expected an absolute path such as /dev/stdout ($path_chars)"
[ "$NGINX_ERROR_LOG" = stderr ] || is_path "$NGINX_ERROR_LOG" ||
    fail "NGINX_ERROR_LOG='$NGINX_ERROR_LOG': expected stderr or an absolute path ($path_chars)"
{ is_path "$NGINX_MIME_TYPES" && [ -r "$NGINX_MIME_TYPES" ]; } ||
    fail "NGINX_MIME_TYPES='$NGINX_MIME_TYPES': expected a readable file by its absolute path ($path_chars)"

# An OpenSSL 3.0 handshake holds about 45 KB until the client's Finished arrives and frees most of it
# then. glibc keeps what nginx frees; jemalloc hands it back to the kernel within a second. At 10,000 TLS
# connections nginx held 410 to 460 MB with glibc and about 280 MB with jemalloc (docs/benchmarks.md, 5 and 7).
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

if [ "$PUBLIC_HTTPS_PORT" = 443 ]; then
    HTTPS_REDIRECT_PORT=''
else
    HTTPS_REDIRECT_PORT=":$PUBLIC_HTTPS_PORT"
fi

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
[ -r "$TLS_CERT" ] || fail "TLS_CERT='$TLS_CERT': no readable certificate (set TLS_CERT, or TLS_SELF_SIGNED=true)"
[ -r "$TLS_KEY" ] || fail "TLS_KEY='$TLS_KEY': no readable key (set TLS_KEY, or TLS_SELF_SIGNED=true)"

# Trusted proxies: realip and the geo map that gates X-Forwarded-Proto. Empty in edge mode.
trusted=$NGINX_RUNTIME_DIR/trusted-proxies.conf
{
    echo "# Rendered by render.sh: peers whose X-Forwarded-For/-Proto are believed."
    if [ "$NGINX_MODE" = behind-alb ]; then
        old_ifs=$IFS
        IFS=', '
        for cidr in $TRUSTED_PROXY_CIDRS; do
            is_cidr "$cidr" || fail "TRUSTED_PROXY_CIDRS: '$cidr' is not a CIDR (expected e.g. 10.0.0.0/16 or fd00::/8)"
            echo "set_real_ip_from $cidr;"
        done
        IFS=$old_ifs
        echo "real_ip_header X-Forwarded-For;"
        echo "real_ip_recursive on;"
    fi
    # shellcheck disable=SC2016 # nginx variables, written literally
    echo 'geo $realip_remote_addr $from_trusted_proxy {'
    echo '    default 0;'
    if [ "$NGINX_MODE" = behind-alb ]; then
        IFS=', '
        for cidr in $TRUSTED_PROXY_CIDRS; do
            echo "    $cidr 1;"
        done
        IFS=$old_ifs
    fi
    echo '}'
} >"$trusted"

export NGINX_MODE SERVER_NAME LISTEN_ADDRESS HTTP_PORT HTTPS_PORT HTTPS_REDIRECT_PORT UPSTREAM STATIC_ROOT \
    RATE_LIMIT RATE_LIMIT_BURST NGINX_RUNTIME_DIR NGINX_ACCESS_LOG NGINX_ERROR_LOG NGINX_WORKER_PROCESSES \
    NGINX_WORKER_CONNECTIONS NGINX_WORKER_RLIMIT_NOFILE NGINX_MIME_TYPES TLS_CERT TLS_KEY UPSTREAM_KEEPALIVE
# Only these variables are substituted: nginx's own $variables pass through untouched.
# shellcheck disable=SC2016 # envsubst's list of names, not an expansion
variables='${NGINX_MODE} ${SERVER_NAME} ${LISTEN_ADDRESS} ${HTTP_PORT} ${HTTPS_PORT} ${HTTPS_REDIRECT_PORT}
${UPSTREAM} ${STATIC_ROOT} ${RATE_LIMIT} ${RATE_LIMIT_BURST} ${NGINX_RUNTIME_DIR} ${NGINX_ACCESS_LOG}
${NGINX_ERROR_LOG} ${NGINX_WORKER_PROCESSES} ${NGINX_WORKER_CONNECTIONS} ${NGINX_WORKER_RLIMIT_NOFILE}
${NGINX_MIME_TYPES} ${TLS_CERT} ${TLS_KEY} ${UPSTREAM_KEEPALIVE}'

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

if [ "$#" -gt 0 ]; then
    if [ -n "$jemalloc" ]; then
        # Freed pages go back to the kernel after about a second. With jemalloc's default of ten
        # seconds, nginx still held all of a 10,000-connection burst's memory at the end of a 30 s run.
        export LD_PRELOAD="$jemalloc" MALLOC_CONF="${MALLOC_CONF:-dirty_decay_ms:1000,muzzy_decay_ms:0}"
    fi
    exec "$@"
fi
echo "$NGINX_RUNTIME_DIR/nginx.conf"
