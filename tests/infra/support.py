"""A node's settings as the tests of the user data and of gunicorn's config share them."""

from __future__ import annotations

from infra import user_data

REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
APP = f"{REGISTRY}/flask-nginx-aws/prod/app@sha256:{'a' * 64}"
PROXY = f"{REGISTRY}/flask-nginx-aws/prod/proxy@sha256:{'b' * 64}"


def node(**changes: object) -> user_data.NodeSettings:
    """A production node's settings, with ``changes``."""
    values: dict[str, object] = {
        "region": "us-east-1",
        "app_image": APP,
        "proxy_image": PROXY,
        "log_group": "/flask-nginx-aws/prod/node",
        "vpc_cidr": "10.0.0.0/16",
        "server_name": "app.example.com",
        "https_port": 8443,
    }
    values.update(changes)
    return user_data.NodeSettings(**values)  # type: ignore[arg-type]
