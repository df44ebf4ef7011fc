"""Where the shipped configs and the sample app live in the repository."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: The node stack: the Dockerfile, gunicorn.conf.py, serve.py, appserver/ and nginx/.
DOCKER = REPO / "docker"
#: The images' build context (the root .dockerignore sends docker/ and the app directory).
CONTEXT = REPO
#: The Dockerfile, in the node stack.
DOCKERFILE = DOCKER / "Dockerfile"
#: The app the images serve by default (config appPath): the sample app, its wsgi.py and static/.
APP = REPO / "app"
#: The proxy image's entrypoint: renders nginx's config from the environment, then runs its command.
RENDER = DOCKER / "nginx" / "render.sh"
#: The images' build step that gives each static file a content-hashed twin and writes the manifest.
STATIC_DIGEST = DOCKER / "static_digest.py"
#: The proxy image's build step that writes each static file's .gz twin.
PRECOMPRESS = DOCKER / "nginx" / "precompress.sh"
#: The app image's command: gunicorn with gunicorn.conf.py, once its settings are checked.
SERVE = DOCKER / "serve.py"
