"""The app image's gunicorn: its settings, read from the environment, and its server hooks.

``gunicorn.conf.py``, the file gunicorn reads, delegates here; ``serve.py`` and ``healthcheck.py`` read the
same settings, and the app reads ``FORWARDED_ALLOW_IPS`` with the same parser. Nothing here imports gunicorn
or flask: gunicorn parses ``WEB_CONCURRENCY`` as it is imported, and the master imports flask only when the
hooks share it with the workers.
"""
