"""The chaos suite: candidate processes under faults, and a checker that proves there was never
more than one leader. ``make chaos`` runs the long profile; the short one runs in ``make test``.
"""
