"""The instances' user data: a pure function from the node's settings to a bash script."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

APP_STOP_TIMEOUT_SECONDS = 45
"""docker's grace before SIGKILL: above gunicorn's graceful_timeout (30 s) and nginx's in-flight requests."""
SOMAXCONN = 16384
"""The kernel's cap on a listen backlog: gunicorn asks for this many (docker/gunicorn.conf.py `backlog`)
so that a burst of connections from nginx waits to be accepted instead of being refused (a full unix
socket refuses at once, and nginx answers 502)."""
SOCKET_VOLUME = "gunicorn-socket"
"""The docker volume that carries gunicorn's unix socket from the app container to the proxy's."""
SOCKET_DIR = "/run/gunicorn"
"""Where both containers mount it: the directory of gunicorn's default socket and nginx's default UPSTREAM."""
_BY_DIGEST = re.compile(r"^(?P<registry>[a-z0-9.-]+(:\d+)?)/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$")


@dataclass(frozen=True, kw_only=True)
class NodeSettings:
    """What one node needs to run the node stack."""

    region: str
    app_image: str
    """The `app` image by digest: `<registry>/<repository>@sha256:<hex>`."""
    proxy_image: str
    """The `proxy` image by digest, from the same registry."""
    log_group: str
    """The CloudWatch log group both containers log to."""
    vpc_cidr: str
    """Where the ALB connects from: the only peers nginx believes X-Forwarded-For/-Proto from."""
    server_name: str
    """The names nginx answers to (the domain, or the ALB's DNS name)."""
    https_port: int
    """nginx's TLS port, the target group's port."""


def registry_of(image: str) -> str:
    """The registry host of an image referenced by digest; refuses tags, which can move."""
    match = _BY_DIGEST.match(image)
    if match is None:
        raise ValueError(f"image {image!r}: expected a reference by digest, <registry>/<name>@sha256:<hex>")
    return match["registry"]


def render(node: NodeSettings) -> str:
    """The user data script: install Docker, log in to ECR, pull both images by digest, run them.

    nginx (the proxy container, on the host's network for the target group's port) reaches gunicorn
    through a unix socket in a docker volume both containers mount, the proxy read-only; no TCP port of
    gunicorn's is open to the host. Both restart always and log to CloudWatch through the awslogs
    driver, one stream per instance and container.
    """
    registry = registry_of(node.app_image)
    if registry_of(node.proxy_image) != registry:
        raise ValueError(f"images {node.app_image!r} and {node.proxy_image!r}: expected one registry")
    q = shlex.quote
    return f"""#!/bin/bash
# Rendered by infra/user_data.py: the node stack (gunicorn + Flask, nginx) on this instance.
set -euo pipefail

readonly REGION={q(node.region)}
readonly REGISTRY={q(registry)}
readonly APP_IMAGE={q(node.app_image)}
readonly PROXY_IMAGE={q(node.proxy_image)}
readonly LOG_GROUP={q(node.log_group)}
# gunicorn's socket directory (docker/gunicorn.conf.py SOCKET). A new volume starts as a copy of the
# images' /run/gunicorn: user 1001, mode 0750.
readonly SOCKET_VOLUME={SOCKET_VOLUME}

# Room in the accept queues (gunicorn's backlog) for a burst of connections; containers on the host
# network share the host's setting.
echo 'net.core.somaxconn = {SOMAXCONN}' > /etc/sysctl.d/90-node-stack.conf
sysctl --quiet --load /etc/sysctl.d/90-node-stack.conf

dnf install -y docker
systemctl enable --now docker

# IMDSv2: a session token first (the launch template refuses token-less requests).
imds_token=$(curl -fsS -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' \\
    http://169.254.169.254/latest/api/token)
instance_id=$(curl -fsS -H "X-aws-ec2-metadata-token: $imds_token" \\
    http://169.254.169.254/latest/meta-data/instance-id)

aws ecr get-login-password --region "$REGION" \\
    | docker login --username AWS --password-stdin "$REGISTRY"
docker pull "$APP_IMAGE"
docker pull "$PROXY_IMAGE"

common=(
    --detach
    --network host
    --restart always
    --stop-timeout {APP_STOP_TIMEOUT_SECONDS}
    --cap-drop ALL
    --security-opt no-new-privileges
    --log-driver awslogs
    --log-opt "awslogs-region=$REGION"
    --log-opt "awslogs-group=$LOG_GROUP"
)

docker run "${{common[@]}}" --name app \\
    --log-opt "awslogs-stream=$instance_id/app" \\
    --mount "type=volume,source=$SOCKET_VOLUME,target={SOCKET_DIR}" \\
    "$APP_IMAGE"

docker run "${{common[@]}}" --name proxy \\
    --log-opt "awslogs-stream=$instance_id/proxy" \\
    --mount "type=volume,source=$SOCKET_VOLUME,target={SOCKET_DIR},readonly" \\
    --env NGINX_MODE=behind-alb \\
    --env TRUSTED_PROXY_CIDRS={q(node.vpc_cidr)} \\
    --env SERVER_NAME={q(node.server_name)} \\
    --env HTTPS_PORT={node.https_port} \\
    "$PROXY_IMAGE"
"""
