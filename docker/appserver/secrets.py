"""The app's secrets, fetched by the node at boot into a file only the app's user can read
(infra/node_secrets.py), put into this process's environment before it becomes gunicorn.

The node gives the file's path in ``APP_SECRETS_FILE`` (the values are never in the container's own
configuration, which ``docker inspect`` shows); the app reads its secrets with ``os.environ`` as it reads
its plain settings. Without the variable there are no secrets and nothing is read. The node fetches again
every few minutes, so after a rotation (RDS rotates a managed master password every 7 days by default)
``current`` has the new value while ``os.environ`` keeps the one the process started with: read ``current``
again when a credential is refused.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, MutableMapping

VARIABLE = "APP_SECRETS_FILE"
_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


class SecretsFileError(ValueError):
    """The secrets file is missing or not what the node writes; the message names the variable and the path,
    never a value."""


def current(env: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The secrets the file ``env[APP_SECRETS_FILE]`` holds now (none without the variable)."""
    path = env.get(VARIABLE)
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as file:
            secrets = json.load(file)
    except OSError as error:
        raise SecretsFileError(f"{VARIABLE}={path}: cannot read it ({error.strerror})") from None
    except ValueError:
        raise SecretsFileError(f"{VARIABLE}={path}: not a JSON object") from None
    if not isinstance(secrets, dict) or not all(
        isinstance(name, str) and _NAME.match(name) and isinstance(value, str)
        for name, value in secrets.items()
    ):
        raise SecretsFileError(f"{VARIABLE}={path}: expected an object of NAME: string")
    return secrets


def load(env: MutableMapping[str, str]) -> list[str]:
    """Add the secrets of the file ``env[APP_SECRETS_FILE]`` names to ``env``; the names added."""
    secrets = current(env)
    env.update(secrets)
    return sorted(secrets)


def install(env: MutableMapping[str, str]) -> None:
    """``load``, ending the process with one line (exit status 1) when the file cannot be used: the app
    would otherwise start without its secrets."""
    try:
        load(env)
    except SecretsFileError as error:
        raise SystemExit(f"serve.py: {error}") from None
