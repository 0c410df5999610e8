"""The duty officer's console: the static page and the browser's session."""
