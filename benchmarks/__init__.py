"""Benchmarks of ``leader_election`` side by side with the official ``kubernetes.leaderelection``.

``make bench`` (``python -m benchmarks``) runs them against the embedded Lease API server and
writes ``docs/benchmarks.md``. The candidate programs, the process fleet and the log checker
come from ``harness/``, shared with the chaos suite (which this package never imports).
"""
