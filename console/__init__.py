"""The console: the web page (``/``, sign-in) and the ``/api/v1`` HTTP API where support staff read
merged histories, add notes, handle suggestions and identity reviews, and admins audit and erase."""
