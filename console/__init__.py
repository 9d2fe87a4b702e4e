"""The console: the web page (``/``, sign-in) and the ``/api/v1`` HTTP API where support staff read
merged histories, add notes, handle suggestions and identity reviews, and admins audit and erase.
:mod:`console.app` builds it; :mod:`console.routes` holds one module per resource; the rest are what
the routes share (authentication and sessions, the audit, the throttle, notes, the live feed)."""
