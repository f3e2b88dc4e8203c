"""Loss of the encoder's worker: a failure fails only the calls in that batch, never the encoder.

Faults are injected into the model's ``forward`` (as a device failure would surface: a torch
``RuntimeError`` such as CUDA out-of-memory, or anything else raised in the worker thread) and
into the batcher itself. Afterwards the callers whose texts shared the failed forward pass have an
``EncodingError`` with the cause chained, every other caller has exactly the vectors a clean
encoder gives, and later calls are served.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from t5_vectors import T5Encoder
from t5_vectors.errors import EncodingError
from tests.reliability.faults import first_line

OOM = (
    "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 15.78 GiB total capacity; "
    "13.10 GiB already allocated)"
)
TEXTS = [f"caller {i} asks about topic {i % 5}" for i in range(16)]
POISON = TEXTS[9]
GATE = "the first pass, held until every caller is queued"
TIMEOUT = 30  # a hung caller fails the test instead of hanging the suite


@pytest.fixture
def encoder(st5_path: Path) -> Iterator[T5Encoder]:
    with T5Encoder.from_pretrained(
        st5_path, device="cpu", dtype="float32", max_batch_size=4, max_wait_ms=0
    ) as enc:
        yield enc


@pytest.fixture(scope="module")
def clean(st5_path: Path) -> dict[str, np.ndarray]:
    with T5Encoder.from_pretrained(st5_path, device="cpu", dtype="float32") as enc:
        return dict(zip(TEXTS, enc.encode(TEXTS), strict=True))


class Forward:
    """Wraps the model's forward: records each pass's texts and fails the chosen passes."""

    def __init__(
        self, encoder: T5Encoder, fail: Callable[[int, set[str]], BaseException | None]
    ) -> None:
        self.real = encoder._model.forward
        known = [*TEXTS, GATE]
        self.by_ids = {
            tuple(ids): text for text, ids in zip(known, encoder.tokenize(known), strict=True)
        }
        self.fail = fail
        self.passes: list[set[str]] = []
        self.failed: list[set[str]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.held: set[str] = set()  # the texts of the pass waiting at the gate
        encoder._model.forward = self  # nn.Module.__call__ looks up forward on the instance

    def hold(self, encoder: T5Encoder) -> threading.Thread:
        """Occupy the worker with a pass over GATE until :meth:`release`."""
        self.gate.clear()
        thread = threading.Thread(target=encoder.encode, args=([GATE],))
        thread.start()
        for _ in range(TIMEOUT * 200):
            if self.held:
                break
            threading.Event().wait(0.005)
        return thread

    def release(self, encoder: T5Encoder, queued: int) -> None:
        """Let the worker go once *queued* requests wait (they then batch deterministically)."""
        for _ in range(TIMEOUT * 200):
            if len(encoder._batcher._pending) >= queued:
                break
            threading.Event().wait(0.005)
        self.gate.set()

    def texts(self, input_ids: torch.Tensor) -> set[str]:
        rows = [tuple(int(t) for t in row) for row in input_ids]
        return {self.by_ids.get(tuple(_strip(row)), "?") for row in rows}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        texts = self.texts(kwargs["input_ids"])
        if GATE in texts:  # the worker waits here while the callers queue up
            self.held = texts
            self.gate.wait(TIMEOUT)
        self.passes.append(texts)
        error = self.fail(len(self.passes), texts)
        if error is not None:
            self.failed.append(texts)
            raise error
        return self.real(*args, **kwargs)

    def disarm(self) -> None:
        """The device recovered: no more failures."""
        self.fail = lambda _n, _texts: None


def _strip(row: tuple[int, ...]) -> tuple[int, ...]:
    end = len(row)
    while end and row[end - 1] == 0:
        end -= 1
    return row[:end]


def poisoned(error: BaseException) -> Callable[[int, set[str]], BaseException | None]:
    return lambda _n, texts: error if POISON in texts else None


def check_outcome(
    results: dict[str, np.ndarray | BaseException],
    forward: Forward,
    clean: dict[str, np.ndarray],
    cause: type[BaseException],
) -> tuple[str, str, list[str]]:
    """(outcome, lost, problems) of concurrent callers after one poisoned forward pass."""
    in_failed = set().union(*forward.failed) - {GATE} if forward.failed else set()
    failed = {t for t, r in results.items() if isinstance(r, BaseException)}
    wrong = [
        t
        for t, r in results.items()
        if not isinstance(r, BaseException) and not np.allclose(r, clean[t], atol=1e-5)
    ]
    problems = []
    if failed != in_failed:
        problems.append(f"failed callers {sorted(failed)} != callers in the failed pass")
    for text in failed:
        error = results[text]
        if not isinstance(error, EncodingError) or not isinstance(error.__cause__, cause):
            problems.append(f"{text}: {first_line(error)} (cause {error.__cause__!r})")
    if wrong:
        problems.append(f"wrong vectors for {wrong}")
    example = next((results[t] for t in failed), None)
    outcome = (
        f"{len(forward.passes)} forward passes, {len(forward.failed)} failed; "
        f"{len(failed)} of {len(results)} callers got "
        f"{type(example).__name__ if example else 'nothing'} (cause "
        f"{type(example.__cause__).__name__ if example else '-'}), "
        f"{len(results) - len(failed) - len(wrong)} got vectors equal to a clean encoder"
    )
    lost = f"{len(wrong)} wrong results; {len(failed - in_failed)} callers failed outside the pass"
    return outcome, lost if wrong or failed - in_failed else "nothing", problems


def later_calls_ok(encoder: T5Encoder, clean: dict[str, np.ndarray], forward: Forward) -> bool:
    forward.disarm()
    vectors = encoder.encode(TEXTS)
    return bool(np.allclose(vectors, np.stack([clean[t] for t in TEXTS]), atol=1e-5))


def test_oom_in_one_pass_fails_that_call_only(encoder, clean, reliability):
    forward = Forward(encoder, lambda n, _texts: RuntimeError(OOM) if n == 2 else None)
    with pytest.raises(EncodingError) as info:
        encoder.encode(TEXTS)  # 16 texts, 4 per pass: the call spans passes 1-4
    first_pass = len(forward.passes)
    recovered = later_calls_ok(encoder, clean, forward)
    error = info.value
    reliability(
        area="worker loss",
        case="RuntimeError 'CUDA out of memory' in forward pass 2 of a 16-text call",
        expected="that call fails with EncodingError (cause chained); later calls are served",
        outcome=f"{first_line(error)[:80]}...; cause {type(error.__cause__).__name__}; "
        f"{first_pass} passes before it stopped; later 16-text call "
        f"{'equal to a clean encoder' if recovered else 'WRONG'}",
        lost="nothing" if recovered else "later calls",
    )
    assert isinstance(error.__cause__, RuntimeError)
    assert "out of memory" in str(error.__cause__)
    assert "out of memory" in str(error)
    assert recovered


def _threads(encoder: T5Encoder, forward: Forward) -> dict[str, np.ndarray | BaseException]:
    results: dict[str, np.ndarray | BaseException] = {}

    def call(text: str) -> None:
        try:
            results[text] = encoder.encode([text])[0]
        except BaseException as error:
            results[text] = error

    held = forward.hold(encoder)
    threads = [threading.Thread(target=call, args=(text,)) for text in TEXTS]
    for thread in threads:
        thread.start()
    forward.release(encoder, len(TEXTS))
    for thread in [held, *threads]:
        thread.join(TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a caller hung"
    return results


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("RuntimeError 'CUDA out of memory'", RuntimeError(OOM)),
        ("SystemExit raised in the worker thread", SystemExit("worker killed")),
    ],
)
def test_concurrent_callers_in_other_passes_are_unaffected(
    name, error, encoder, clean, reliability
):
    forward = Forward(encoder, poisoned(error))
    results = _threads(encoder, forward)
    outcome, lost, problems = check_outcome(results, forward, clean, type(error))
    recovered = later_calls_ok(encoder, clean, forward)
    reliability(
        area="worker loss",
        case=f"{name} in the pass holding 1 of 16 concurrent threads' texts",
        expected="only the callers coalesced into that pass fail; the others and later calls "
        "get correct vectors",
        outcome=f"{outcome}; later calls {'OK' if recovered else 'WRONG'}",
        lost=lost,
    )
    assert not problems, problems
    assert len(forward.failed) >= 1
    assert len(set().union(*forward.failed)) < len(TEXTS)
    assert recovered


async def test_async_callers_in_other_passes_are_unaffected(encoder, clean, reliability):
    forward = Forward(encoder, poisoned(RuntimeError(OOM)))

    async def call(text: str) -> np.ndarray | BaseException:
        try:
            return (await encoder.aencode([text]))[0]
        except Exception as error:
            return error

    held = forward.hold(encoder)
    tasks = [asyncio.ensure_future(call(t)) for t in TEXTS]

    async def all_queued() -> None:
        while len(encoder._batcher._pending) < len(TEXTS):
            await asyncio.sleep(0.005)  # polls a condition; the bound is the wait_for below

    await asyncio.wait_for(all_queued(), TIMEOUT)
    forward.release(encoder, len(TEXTS))
    values = await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT)
    held.join(TIMEOUT)
    results = dict(zip(TEXTS, values, strict=True))
    outcome, lost, problems = check_outcome(results, forward, clean, RuntimeError)
    recovered = later_calls_ok(encoder, clean, forward)
    reliability(
        area="worker loss",
        case="RuntimeError 'CUDA out of memory' under 16 concurrent asyncio callers",
        expected="only the callers coalesced into that pass fail; the others and later calls "
        "get correct vectors",
        outcome=f"{outcome}; later calls {'OK' if recovered else 'WRONG'}",
        lost=lost,
    )
    assert not problems, problems
    assert forward.failed
    assert recovered


def test_a_crash_outside_the_forward_pass_replaces_the_worker(encoder, clean, reliability):
    """A batcher bug (results of the wrong shape) kills the worker thread itself."""
    batcher = encoder._batcher
    real = batcher._run_batch
    broken: list[int] = []

    def short_results(batch: Any, need_pooled: bool, need_tokens: bool) -> Any:
        pooled, tokens = real(batch, need_pooled, need_tokens)
        if not broken and len(batch) > 1:
            broken.append(len(batch))
            pooled = pooled[:-1]  # one row short: distributing the results raises IndexError
        return pooled, tokens

    batcher._run_batch = short_results
    encoder.encode(["warm up"])  # one text: served normally, starts the worker
    old_thread = batcher._thread
    future = batcher.submit(encoder.tokenize(TEXTS[:4]))
    with pytest.raises(EncodingError) as info:
        future.result(TIMEOUT)
    later = batcher.submit(encoder.tokenize(TEXTS[4:8])).result(TIMEOUT)
    recovered = np.allclose(later, np.stack([clean[t] for t in TEXTS[4:8]]), atol=1e-5)
    error = info.value
    reliability(
        area="worker loss",
        case="the worker thread itself dies (IndexError while handing out a pass's results)",
        expected="that batch's calls fail with EncodingError; a new worker serves later calls",
        outcome=f"{first_line(error)[:100]}...; cause {first_line(error.__cause__)}; later call "
        f"{'equal to a clean encoder' if recovered else 'WRONG'} "
        f"(worker {'replaced' if batcher._thread is not old_thread else 'same'})",
        lost="nothing" if recovered else "later calls",
    )
    assert isinstance(error.__cause__, IndexError)
    assert recovered
