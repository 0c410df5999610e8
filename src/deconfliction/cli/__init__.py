"""The command line door: ``deconfliction ...`` (see `deconfliction.cli.app`)."""

from deconfliction.cli.app import app, main, open_service

__all__ = ["app", "main", "open_service"]
