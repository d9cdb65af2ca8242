"""The JSON API: routes (``routes``), their schemas, dependencies and errors.

Imports the rooms below it (core, store, serving, digest, jobs, label_import, runtime) and
``training.inference``: never the page (``app.web``) nor the entry points.
"""
