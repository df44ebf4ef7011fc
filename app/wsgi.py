"""The app's WSGI entry point: ``wsgi:app``, the node stack's default ``WSGI_APP``."""

from notes import create_app

app = create_app()
