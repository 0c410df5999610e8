"""deconfliction: an open deconfliction mechanism for shared airspace."""

__version__ = "0.1.0"
