"""Benchmarks of the running services, outside the test run.

python -m newsmill_ingest.bench.throughput
"""
