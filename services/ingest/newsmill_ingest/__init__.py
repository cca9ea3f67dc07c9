"""newsmill's ingest service: the drop-folder watcher, submission, the reconciler and the CLI.

It publishes tasks by name and never imports the worker package at import time.
"""
