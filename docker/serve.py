"""The app image's command: gunicorn with gunicorn.conf.py, once the settings that file reads are checked.

gunicorn serves ``appserver.wsgi:application`` (gunicorn.conf.py's ``wsgi_app``): the app ``WSGI_APP`` names,
behind the node stack's proxy fix. Arguments are passed on to gunicorn.

gunicorn parses ``WEB_CONCURRENCY`` itself, with ``int()``, as it is imported and before it reads its config
file, so a value that is not a whole number would end in a traceback. ``appserver.settings.load``, which
gunicorn.conf.py calls, checks every setting and stops on a bad one with one line naming it: calling it first
gives that line instead. Then this process becomes gunicorn (``exec``), which keeps the container's PID and
its signals.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from appserver.secrets import install
from appserver.settings import load

CONF = Path(__file__).with_name("gunicorn.conf.py")


def main(argv: list[str]) -> None:
    """Check the settings, then run ``gunicorn --config gunicorn.conf.py ARGV`` in this process."""
    install(os.environ)
    load(os.environ)
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    # The image's own gunicorn, by absolute path, with our config: no shell, no PATH lookup.
    os.execv(gunicorn, [gunicorn, "--config", str(CONF), *argv])  # noqa: S606  # nosec


if __name__ == "__main__":
    main(sys.argv[1:])
