"""A node's settings as the tests of the user data and of gunicorn's config share them."""

from __future__ import annotations

import dataclasses
from typing import Any

from infra import user_data
from infra.config import PROJECT

REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
APP = f"{REGISTRY}/{PROJECT}/prod/app@sha256:{'a' * 64}"
PROXY = f"{REGISTRY}/{PROJECT}/prod/proxy@sha256:{'b' * 64}"


PRODUCTION = user_data.NodeSettings(
    region="us-east-1",
    app_image=APP,
    proxy_image=PROXY,
    log_group=f"/{PROJECT}/prod/node",
    vpc_cidr="10.0.0.0/16",
    server_name="app.example.com",
    https_port=8443,
)


def node(**changes: Any) -> user_data.NodeSettings:
    """A production node's settings, with ``changes``."""
    return dataclasses.replace(PRODUCTION, **changes)
