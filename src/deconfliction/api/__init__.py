"""The HTTP API: a thin shell that translates requests to `Service` calls."""
