"""gunicorn's entry point: ``gunicorn --config gunicorn.conf.py run:app``."""

from app import create_app

app = create_app()
