"""``python -m leader_election`` is the ``leader-election`` command."""

import sys

from leader_election.cli import main

sys.exit(main())
