"""What makes a plain setting look like a secret: its name, or its value. Pure functions, for the policy rule
`app-settings-not-secret` (policy/policies.py), which reads the settings from a launch template's user data,
where plain settings are `--env NAME=value` options of the app container (infra/user_data.py).

A reason names the setting and the kind of match, never the value: policy output is logged.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import shlex
from collections import Counter

SECRET_WORDS = frozenset(
    {
        "PASSWORD",
        "PASSWD",
        "PWD",
        "PASSPHRASE",
        "SECRET",
        "SECRETS",
        "TOKEN",
        "TOKENS",
        "KEY",
        "APIKEY",
        "CREDENTIAL",
        "CREDENTIALS",
        "PRIVATE",
        "SIGNATURE",
        "SALT",
        "DSN",
    }
)
"""Words of a name (split at underscores) that say its value is a secret."""
ALLOWED_NAMES = frozenset({"APP_SECRETS_FILE"})
"""Set by the program itself: the path of the fetched secrets, not a secret (infra/node_secrets.py)."""
_VALUE_PATTERNS = (
    ("an AWS access key id", re.compile(r"\b(AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b")),
    ("a private key block", re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----")),
    ("a URL with a password", re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:[^/\s@]+@")),
    ("a GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b")),
    ("a Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
)
HIGH_ENTROPY_LENGTH = 20
HIGH_ENTROPY_BITS = 3.5
"""A run of at least HIGH_ENTROPY_LENGTH token characters looks random when it mixes upper case, lower case
and digits with more than HIGH_ENTROPY_BITS bits per character. Hex (one case: commit hashes, digests) never
does; words and paths rarely mix all three. Random base64 of 24 characters does, but for the ~2% without a
digit (tests/policy/test_app_settings_policy.py measures it)."""
_TOKEN_RUN = re.compile(rf"[A-Za-z0-9+/=_-]{{{HIGH_ENTROPY_LENGTH},}}")


def entropy(text: str) -> float:
    """Shannon entropy of `text`, in bits per character."""
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _high_entropy(value: str) -> bool:
    return any(
        entropy(run) > HIGH_ENTROPY_BITS and all(re.search(kind, run) for kind in ("[0-9]", "[a-z]", "[A-Z]"))
        for run in _TOKEN_RUN.findall(value)
    )


def why_secret(name: str, value: str) -> str | None:
    """Why the setting `name=value` looks like a secret, or None."""
    if name in ALLOWED_NAMES:
        return None
    words = set(name.upper().split("_"))
    if words & SECRET_WORDS:
        return f"its name has {', '.join(sorted(words & SECRET_WORDS))}"
    for kind, pattern in _VALUE_PATTERNS:
        if pattern.search(value):
            return f"its value holds {kind}"
    if _high_entropy(value):
        return f"its value holds a run of {HIGH_ENTROPY_LENGTH}+ random-looking characters"
    return None


def app_settings(user_data: str) -> dict[str, str]:
    """The `--env NAME=value` options of the app container's `docker run` in a user data script (plain text,
    or base64 as a launch template holds it); empty when there is none."""
    try:
        text = base64.b64decode(user_data, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        text = user_data
    joined = text.replace("\\\n", " ")
    for line in joined.splitlines():
        if line.startswith("docker run") and "--name app " in line:
            words = shlex.split(line)
            return dict(
                words[i + 1].split("=", 1)
                for i, word in enumerate(words[:-1])
                if word == "--env" and "=" in words[i + 1]
            )
    return {}
