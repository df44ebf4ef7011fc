"""Benchmarks of the node stack (nginx + gunicorn + Flask) on loopback: ``python -m bench --help``."""
