"""``for_root_async`` factories: call one, await what it returns, name it in errors.

Shared by ``LeaderElectionModule`` and ``LeaderElectionGroup``: the factory runs in
``start()``, after ``imports``, with ``inject`` as its arguments; a failure is a
``ConfigurationError`` that names the factory.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from leader_election.errors import ConfigurationError

__all__ = ["call_factory", "factory_source"]

_FACTORY_TIMEOUT = 60.0


def factory_source(factory: Callable[..., Any]) -> str:
    """How messages name a factory: ``for_root_async factory <qualified name>``."""
    return f"for_root_async factory {getattr(factory, '__qualname__', repr(factory))}"


def call_factory(
    factory: Callable[..., Any],
    inject: Sequence[Any] = (),
    imports: Sequence[Callable[[], Any]] = (),
) -> Any:
    """Run ``imports``, then ``factory(*inject)``, awaiting an awaitable result.

    Raises ``ConfigurationError`` naming the factory when it (or an import) raises.
    """
    try:
        for item in imports:
            item()
        result = factory(*inject)
        if inspect.isawaitable(result):
            result = _run_awaitable(result)
    except ConfigurationError:
        raise
    except Exception as exc:
        raise ConfigurationError(
            f"{factory_source(factory)} raised {type(exc).__name__}: {exc}",
            option="use_factory",
            value=factory,
        ) from exc
    return result


def _run_awaitable(awaitable: Awaitable[Any]) -> Any:
    """Run a factory's awaitable to completion from synchronous code."""

    # Imported here: asyncio costs more import time than the rest of this package, and only
    # async factories need it.
    import asyncio  # noqa: PLC0415

    async def wait() -> Any:
        return await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wait())
    # start() was called from inside a running event loop: run ours on a helper thread.
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = asyncio.run(wait())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=run, name="leader-election[async]-factory", daemon=True)
    thread.start()
    thread.join(_FACTORY_TIMEOUT)
    if thread.is_alive():
        raise TimeoutError(f"the awaitable did not complete within {_FACTORY_TIMEOUT:.0f} s")
    if "error" in box:
        raise box["error"]
    return box["result"]
