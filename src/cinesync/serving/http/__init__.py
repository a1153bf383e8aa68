"""The HTTP service: ``app.create_app`` (FastAPI), ``routers/`` (one module per resource), ``schemas``
(request and response bodies), ``auth`` (bearer tokens), ``errors`` (one JSON error shape) and the
web page's static files (``web/``)."""
