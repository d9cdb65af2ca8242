"""Serving the model: versions in the database (``registry``), the active model loaded once and
swapped on activation (``holder``), scoring and storing scores (``scoring``), a day's list
(``day``), and the reasons beside a recommendation (``reasons``).

Imports ``app.core``, ``app.store`` and ``training.inference``: never the fitting side of
``training``, the jobs, the API or the page.
"""
