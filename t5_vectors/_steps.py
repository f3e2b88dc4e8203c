"""Sync and async written once: an operation is a generator of calls, run by a thin driver.

An operation (``QdrantIndex.search``, a qdrant-client backend's ``scroll``) is written once as a
generator that yields :class:`Call` values (which object to call, which method, the arguments)
and receives each call's result back; it decides everything in plain code and does no I/O
itself, as h11 and httpcore do. :func:`drive` runs it against sync objects and :func:`adrive`
against async ones (awaiting each call), so the two APIs cannot drift apart::

    def count(collection: str) -> Steps[int]:
        result = yield Call("client", "count", (collection,), {"exact": True})
        return result.count

    drive(count("docs"), {"client": QdrantClient(...)})              # sync
    await adrive(count("docs"), {"client": AsyncQdrantClient(...)})  # async

A call that raises sends its exception into the generator at the ``yield`` (after *wrap*, which
may translate it), where the operation may handle it; otherwise it propagates to the caller.

:func:`sync_methods` and :func:`async_methods` build an adapter class's methods from a table of
such operations, so that each method of a protocol is written exactly once.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = [
    "Call",
    "Operation",
    "Steps",
    "adrive",
    "arun_steps",
    "async_methods",
    "drive",
    "run_steps",
    "sync_methods",
]

T = TypeVar("T")

Steps = Generator["Call", Any, T]
"""An operation: yields :class:`Call` values, receives their results, returns its own."""

Wrap = Callable[[Exception], BaseException]


@dataclass(frozen=True)
class Call:
    """One call an operation asks for: ``targets[target].name(*args, **kwargs)``."""

    target: str
    name: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def bind(self, targets: Mapping[str, Any]) -> Any:
        """The bound method this call names on *targets*."""
        return getattr(targets[self.target], self.name)


def _keep(error: Exception) -> BaseException:
    return error


@dataclass(frozen=True)
class _Done:
    value: Any


def _advance(steps: Generator[Any, Any, Any], value: Any, error: BaseException | None) -> Any:
    """Send the last result (or throw its error) into *steps*: its next request, or done."""
    try:
        return steps.throw(error) if error is not None else steps.send(value)
    except StopIteration as done:
        return _Done(done.value)


def run_steps(steps: Generator[Any, Any, T], do: Callable[[Any], Any], wrap: Wrap = _keep) -> T:
    """Run *steps*, answering each request it yields with ``do(request)``."""
    value: Any = None
    error: BaseException | None = None
    while not isinstance(request := _advance(steps, value, error), _Done):
        value, error = None, None
        try:
            value = do(request)
        except Exception as failure:
            error = wrap(failure)
    return request.value  # type: ignore[no-any-return]


async def arun_steps(
    steps: Generator[Any, Any, T], do: Callable[[Any], Awaitable[Any]], wrap: Wrap = _keep
) -> T:
    """Run *steps*, answering each request it yields with ``await do(request)``."""
    value: Any = None
    error: BaseException | None = None
    while not isinstance(request := _advance(steps, value, error), _Done):
        value, error = None, None
        try:
            value = await do(request)
        except Exception as failure:
            error = wrap(failure)
    return request.value  # type: ignore[no-any-return]


def drive(steps: Steps[T], targets: Mapping[str, Any], wrap: Wrap = _keep) -> T:
    """Run *steps*, making each call on the sync objects of *targets*."""
    return run_steps(steps, lambda call: call.bind(targets)(*call.args, **call.kwargs), wrap)


async def adrive(steps: Steps[T], targets: Mapping[str, Any], wrap: Wrap = _keep) -> T:
    """Run *steps*, awaiting each call on the async objects of *targets* (a target's method
    that is not a coroutine function, a sync helper next to async ones, is called as it is)."""

    async def do(call: Call) -> Any:
        value = call.bind(targets)(*call.args, **call.kwargs)
        return await value if inspect.isawaitable(value) else value

    return await arun_steps(steps, do, wrap)


Operation = Callable[..., Steps[Any]]


def sync_methods(
    operations: Mapping[str, Operation], run: Callable[[Any, Steps[Any]], Any]
) -> dict[str, Callable[..., Any]]:
    """Methods that run each operation with ``run(self, steps)`` (the class's sync driver)."""

    def method(name: str, operation: Operation) -> Callable[..., Any]:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            return run(self, operation(self, *args, **kwargs))

        call.__name__ = call.__qualname__ = name
        call.__doc__ = operation.__doc__
        return call

    return {name: method(name, operation) for name, operation in operations.items()}


def async_methods(
    operations: Mapping[str, Operation], run: Callable[[Any, Steps[Any]], Awaitable[Any]]
) -> dict[str, Callable[..., Any]]:
    """Coroutine methods that run each operation with ``await run(self, steps)``."""

    def method(name: str, operation: Operation) -> Callable[..., Any]:
        async def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            return await run(self, operation(self, *args, **kwargs))

        call.__name__ = call.__qualname__ = name
        call.__doc__ = operation.__doc__
        return call

    return {name: method(name, operation) for name, operation in operations.items()}
