"""The HTTP API for cameras and other systems (FastAPI), mounted by serve.py under /api: app (the app),
gate (tokens and body size, before a body is read), routes (the /v1 endpoints), failures (JSON refusals)."""
