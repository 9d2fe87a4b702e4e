"""The console: HTTP API (and later the web page) where support staff read merged histories."""
