"""The node stack's real processes on loopback, started with the configs the images ship.

gunicorn runs ``docker/serve.py`` with ``docker/gunicorn.conf.py``; nginx is rendered by
``docker/nginx/render.sh`` from its templates and started with the proxy image's command. The tests, the
benchmarks (``bench/``) and ``make local`` (``nodestack.local``) start the stack through this package.
"""
