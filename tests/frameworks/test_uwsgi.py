"""uWSGI with two worker processes serving the Flask test app against the embedded server.

Without ``lazy-apps`` the master loads the application and forks the workers *without*
running Python's at-fork hooks; the election must start in each worker (from uWSGI's postfork
hook) and never in the master. With ``lazy-apps`` each worker loads the application itself.
uWSGI's signal handlers live in C: the library leaves them alone and releases from the exit
hook, which uWSGI runs when a worker ends — but not for a worker killed in the middle of a
request (``die-on-term`` kills them so), hence the graceful shutdown on SIGTERM that
docs/servers.md recommends, tested here with both workers busy when SIGTERM arrives.
"""

from __future__ import annotations

import concurrent.futures
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from leader_election.testing import LeaseAPIServer, wait_for

from .conftest import (
    candidates,
    flask_env,
    free_port,
    holder,
    process_alive,
    try_get_json,
    workers_seen,
)

pytestmark = [pytest.mark.processes, pytest.mark.slow]

UWSGI = Path(sys.executable).with_name("uwsgi")


@pytest.mark.skipif(not UWSGI.exists(), reason="uWSGI is not installed (pip install uwsgi)")
@pytest.mark.parametrize("lazy_apps", [False, True], ids=["master-loads-the-app", "lazy-apps"])
def test_one_worker_leads_and_stopping_uwsgi_releases(
    server: LeaseAPIServer, services: Any, tmp_path: Path, lazy_apps: bool
) -> None:
    port = free_port()
    argv = [str(UWSGI), "--http-socket", f"127.0.0.1:{port}", "--master", "--processes", "2"]
    argv += ["--module", "flask_app:app", "--need-app", "--virtualenv", sys.prefix]
    # The settings docs/servers.md recommends: threads on, SIGTERM shuts down gracefully.
    argv += ["--enable-threads", "--hook-master-start", "unix_signal:15 gracefully_kill_them_all"]
    argv += ["--disable-logging"]
    if lazy_apps:
        argv.append("--lazy-apps")
    uwsgi = services(argv, env=flask_env(server, tmp_path))
    whoami = f"http://127.0.0.1:{port}/whoami"

    workers = workers_seen(whoami, 2)
    assert uwsgi.pid not in workers
    wait_for(lambda: len(candidates(tmp_path)) >= 2, 10, what="both workers competing")
    competing = candidates(tmp_path)
    assert set(competing) == set(workers), f"candidates {competing}, workers {set(workers)}"

    def one_leader() -> bool:
        answers = workers_seen(whoami, 2)
        leaders = [a for a in answers.values() if a["leader"]]
        return len(leaders) == 1 and leaders[0]["identity"] == holder(server)

    wait_for(one_leader, 15, what="exactly one worker leading")

    # SIGTERM while both workers serve a request (each appends its pid to `busy` first).
    busy = tmp_path / "busy.txt"
    url = f"{whoami}?hold=1&busy={busy}"
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        answers = [pool.submit(try_get_json, url) for _ in range(2)]
        wait_for(lambda: busy.exists() and len(busy.read_text().split()) == 2, 10, what="busy")
        uwsgi.signal(signal.SIGTERM)
        assert [a.result() is not None for a in answers] == [True, True]  # requests finished
    assert uwsgi.wait(15) == 0, uwsgi.output()
    assert holder(server) == "", uwsgi.output()  # released, not left to expire (10 s)
    for pid in workers:
        wait_for(lambda pid=pid: not process_alive(pid), 5, what=f"worker {pid} to exit")
