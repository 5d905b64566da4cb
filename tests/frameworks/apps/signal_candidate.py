"""One module in a process of its own, to test signal handling for real:
``python signal_candidate.py KUBECONFIG LEASE MODE``.

MODE: ``chain`` (a Python SIGTERM handler was there before the module started), ``default``
(SIGTERM at its default disposition), ``ignored`` (SIGTERM ignored), ``opt-out``
(``handle_signals=False``), ``thread`` (the module is started from another thread), ``loop``
(started inside a running event loop on the main thread, with a coroutine job that needs the
loop to finish after its term: SIGTERM lands on the loop's thread), ``job-stops`` (a
leader-only job calls ``stop()``, which must finish on a thread of its own, and the main thread
exits at once).
Prints ``ready IDENTITY HANDLER`` once leading (HANDLER: what SIGTERM's handler is now).
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading

from leader_election import LeaderElectionModule

kubeconfig, lease, mode = sys.argv[1:4]
election = LeaderElectionModule.for_root(
    lease_name=lease,
    kubeconfig=kubeconfig,
    renewal_interval=500,
    lease_duration=10000,
    handle_signals=mode != "opt-out",
)
done = threading.Event()


def previous_handler(signum: int, frame: object) -> None:
    # Runs after the library's handler: the Lease is already released.
    print(f"chained state={election.state.value} leader={election.is_leader}", flush=True)
    done.set()


if mode == "chain":
    signal.signal(signal.SIGTERM, previous_handler)
elif mode == "ignored":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

if mode == "loop":

    @election.run_while_leader
    async def job(term: asyncio.Event) -> None:
        await term.wait()
        await asyncio.sleep(0.3)  # finishing what it has in hand, on the loop
        print("job-end", flush=True)

    async def serve() -> None:
        election.start()  # in the loop: the job runs on it
        await asyncio.get_running_loop().run_in_executor(None, election.wait_for_leadership, 10)
        print(f"ready {election.identity} {signal.getsignal(signal.SIGTERM).__name__}", flush=True)  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(serve())
if mode == "job-stops":
    stopped = threading.Event()

    @election.run_while_leader
    def stopper(term: threading.Event) -> None:
        election.stop()  # returns at once: the drain waits for this very job
        stopped.set()

    election.start()
    stopped.wait(10)
    print(f"ready {election.identity} -", flush=True)
    sys.exit(0)  # the exit hook waits for the stop still running
if mode == "thread":
    starter = threading.Thread(target=election.start, name="starter")
    starter.start()
    starter.join()
else:
    election.start()
election.wait_for_leadership(10)
handler = signal.getsignal(signal.SIGTERM)
names = {signal.SIG_IGN: "SIG_IGN", signal.SIG_DFL: "SIG_DFL"}
name = names.get(handler, getattr(handler, "__name__", repr(handler)))
print(f"ready {election.identity} {name}", flush=True)
if mode == "thread":
    sys.exit(0)  # normal exit: the atexit hook releases
while not done.wait(0.2):
    pass
print("exiting", flush=True)
