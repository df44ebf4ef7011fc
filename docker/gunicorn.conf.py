"""gunicorn's settings for the app image: ``gunicorn --config gunicorn.conf.py``.

The values, their defaults and the reasons for them are in ``appserver.settings``, read from the environment
by ``appserver.environment``; the hooks are in ``appserver.hooks``. gunicorn imports this file after it has
put its working directory (the image's /app, the app's directory) on sys.path; the node stack's own
modules are on PYTHONPATH (the image's /opt/nodestack).
"""

import os

from appserver.hooks import ServerHooks
from appserver.settings import load

_settings = load(os.environ)
_hooks = ServerHooks(
    keepalive_queue_seconds=_settings.keepalive_queue_seconds,
    shared_libraries=_settings.shared_libraries,
)

bind = list(_settings.bind)
umask = _settings.umask
workers = _settings.workers
worker_class = _settings.worker_class
worker_connections = _settings.worker_connections
threads = _settings.threads
timeout = _settings.timeout
keepalive = _settings.keepalive
graceful_timeout = _settings.graceful_timeout
max_requests = _settings.max_requests
max_requests_jitter = _settings.max_requests_jitter
backlog = _settings.backlog
worker_tmp_dir = _settings.worker_tmp_dir
accesslog = _settings.accesslog
errorlog = _settings.errorlog
loglevel = _settings.loglevel
access_log_format = _settings.access_log_format
forwarded_allow_ips = _settings.forwarded_allow_ips
control_socket_disable = _settings.control_socket_disable
preload_app = _settings.preload_app
wsgi_app = _settings.wsgi_app

pre_request = _hooks.pre_request
when_ready = _hooks.when_ready
worker_exit = _hooks.worker_exit
post_fork = _hooks.post_fork
