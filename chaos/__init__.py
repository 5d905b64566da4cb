"""The chaos suite: candidate processes under faults, and a checker that proves there was never
more than one leader. ``make chaos`` runs the long profile; the short one runs in ``make test``.
The candidates, the fleet and the checker come from ``harness/``, shared with the benchmarks
(which this package never imports).
"""
