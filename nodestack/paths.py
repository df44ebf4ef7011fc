"""Where the shipped configs live in the repository."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: The images' build context: the app, gunicorn.conf.py, serve.py and nginx/.
DOCKER = REPO / "docker"
#: The proxy image's entrypoint: renders nginx's config from the environment, then runs its command.
RENDER = DOCKER / "nginx" / "render.sh"
#: The proxy image's build step that writes each static file's .gz twin.
PRECOMPRESS = DOCKER / "nginx" / "precompress.sh"
#: The app image's command: gunicorn with gunicorn.conf.py, once its settings are checked.
SERVE = DOCKER / "serve.py"
