"""The harness the chaos suite and the benchmarks share: candidate processes and their logs.

- ``fleet``: start candidate processes (ours or the official client's), collect their JSON
  event lines, signal them, reap them all.
- ``ours_candidate`` / ``official_candidate``: the candidate programs, behind one set of
  options (start gate, protected action log, leader-only work job).
- ``group_candidate``: a member of a ``LeaderElectionGroup`` with the same options and output,
  every record naming its Lease (the chaos suite's group profiles).
- ``work``: the leader-only job both candidates run with ``--work-log``: it writes monotonic
  samples while it works and takes a while to stop after its stop event.
- ``checker``: what must hold after a run, judged from those logs alone.

Imports point one way: ``chaos`` and ``benchmarks`` import ``harness``; ``harness`` imports
only ``leader_election`` (and, in ``official_candidate``, the official client). The event-line
reader itself lives with the candidate program, in ``leader_election.testing.candidate``.
Not installed with the package: run from a checkout (``make chaos``, ``make bench``).
"""
