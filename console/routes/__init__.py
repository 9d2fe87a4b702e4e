"""The console's routes, one module per resource, each a ``router(...)`` built by :mod:`console.app`."""
