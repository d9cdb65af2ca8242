"""The ground floor: settings, the one ``Database``, access tokens, private and secret files,
the response cache, thread and heap tuning, arXiv ids.

Imports nothing of the app (nor of ``training``): every other room stands on it.
"""
