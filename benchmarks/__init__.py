"""Benchmarks of ``leader_election`` side by side with the official ``kubernetes.leaderelection``.

``make bench`` (``python -m benchmarks``) runs them against the embedded Lease API server and
writes ``docs/benchmarks.md``. The candidate harnesses and the process fleet here are shared
with the chaos suite (``chaos/``).
"""
