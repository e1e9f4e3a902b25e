"""Benchmarks of sklearn-songpop: every figure is a ratio against a reference timed in the same run.

Run them all with ``python -m benchmarks`` (or ``make bench``); ``--only NAME`` runs one.
"""
