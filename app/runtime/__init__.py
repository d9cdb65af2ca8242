"""What one running service holds, made once at start (``services.Services``), and what is
wrong with it (``health``), read by ``/health``, ``/status`` and the page.

Imports every room below the API (core, store, serving, digest, jobs): never the API or the page.
"""
