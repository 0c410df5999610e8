"""Settings from the environment and the server's key files."""
