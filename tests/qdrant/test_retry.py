"""Only transient failures are retried, with backoff, and the last error surfaces."""

from __future__ import annotations

import time

import grpc
import httpx
import pytest
from httpx import Headers
from qdrant_client.common.client_exceptions import ResourceExhaustedResponse
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from t5_vectors import RetryPolicy
from t5_vectors.errors import InvalidInputError
from t5_vectors.storage.errors import is_transient

FAST = RetryPolicy(attempts=3, initial_wait=0, max_wait=0, jitter=0)


def http(status: int) -> UnexpectedResponse:
    return UnexpectedResponse(status, "reason", b'{"status": "error"}', Headers())


class RpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (http(500), True),
        (http(502), True),
        (http(503), True),
        (http(429), True),
        (http(400), False),
        (http(404), False),
        (http(409), False),
        (http(422), False),
        (UnexpectedResponse(None, "", b"", Headers()), False),
        (ResponseHandlingException(httpx.ConnectError("refused")), True),
        (ResourceExhaustedResponse("slow down", 1), True),
        (httpx.ConnectError("refused"), True),
        (httpx.ReadTimeout("slow"), True),
        (httpx.RemoteProtocolError("closed"), True),
        (ConnectionResetError(), True),
        (TimeoutError(), True),
        (RpcError(grpc.StatusCode.UNAVAILABLE), True),
        (RpcError(grpc.StatusCode.RESOURCE_EXHAUSTED), True),
        (RpcError(grpc.StatusCode.DEADLINE_EXCEEDED), True),
        (RpcError(grpc.StatusCode.INVALID_ARGUMENT), False),
        (RpcError(grpc.StatusCode.NOT_FOUND), False),
        (ValueError("Wrong input: Vector dimension error"), False),
        (RuntimeError("boom"), False),
    ],
)
def test_is_transient(error, transient):
    assert is_transient(error) is transient


def flaky(failures: list[BaseException], result: str = "ok"):
    calls = []

    def function() -> str:
        calls.append(1)
        if len(calls) <= len(failures):
            raise failures[len(calls) - 1]
        return result

    return function, calls


def test_transient_errors_are_retried_until_success():
    function, calls = flaky([http(503), ResponseHandlingException(TimeoutError())])
    assert FAST.call(function) == "ok"
    assert len(calls) == 3


def test_permanent_errors_are_not_retried():
    function, calls = flaky([http(400)])
    with pytest.raises(UnexpectedResponse):
        FAST.call(function)
    assert len(calls) == 1


def test_the_last_error_surfaces_after_the_last_attempt():
    errors = [http(503), http(502), http(500), http(504)]
    function, calls = flaky(errors)
    with pytest.raises(UnexpectedResponse) as info:
        FAST.call(function)
    assert info.value is errors[2]
    assert len(calls) == 3


def test_one_attempt_disables_retries():
    function, calls = flaky([http(503)])
    with pytest.raises(UnexpectedResponse):
        RetryPolicy(attempts=1).call(function)
    assert len(calls) == 1


async def test_async_retries():
    failures = [http(429)]
    calls = []

    async def function() -> str:
        calls.append(1)
        if len(calls) <= len(failures):
            raise failures[0]
        return "ok"

    assert await FAST.acall(function) == "ok"
    assert len(calls) == 2

    async def permanent() -> str:
        calls.append(1)
        raise http(422)

    calls.clear()
    with pytest.raises(UnexpectedResponse):
        await FAST.acall(permanent)
    assert len(calls) == 1


def test_backoff_grows_and_honours_retry_after():
    policy = RetryPolicy(attempts=2, initial_wait=0, max_wait=0, jitter=0)
    function, _ = flaky([ResourceExhaustedResponse("slow down", 1)])
    started = time.perf_counter()
    assert policy.call(function) == "ok"
    assert time.perf_counter() - started >= 0.95
    timed = RetryPolicy(attempts=3, initial_wait=0.05, max_wait=1, jitter=0)
    function, _ = flaky([http(503), http(503)])
    started = time.perf_counter()
    timed.call(function)
    assert time.perf_counter() - started >= 0.05 + 0.1 - 0.01  # 0.05 then 0.1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"attempts": 0}, "attempts: expected at least 1"),
        ({"attempts": 2.5}, "attempts: expected an int"),
        ({"initial_wait": -1}, "initial_wait: expected seconds"),
        ({"max_wait": "1"}, "max_wait: expected seconds"),
        ({"jitter": True}, "jitter: expected seconds"),
    ],
)
def test_policy_validation(options, message):
    with pytest.raises(InvalidInputError, match=message):
        RetryPolicy(**options)


def test_tries_are_counted_and_backed_off_across_the_plain_first_try(monkeypatch, caplog):
    # The first try runs outside tenacity; the later ones must still count as 2, 3, ... in
    # the warnings and wait initial_wait * 2 ** (try - 1).
    pauses: list[float] = []
    monkeypatch.setattr(time, "sleep", pauses.append)  # tenacity's and ours
    policy = RetryPolicy(attempts=4, initial_wait=1, max_wait=100, jitter=0)
    function, calls = flaky([http(503), http(502), http(500)])
    with caplog.at_level("WARNING", logger="t5_vectors"):
        assert policy.call(function) == "ok"
    assert len(calls) == 4
    assert pauses == [1, 2, 4]
    assert [r.getMessage().split(")")[0] for r in caplog.records] == [
        "Transient Qdrant error (attempt 1 of 4",
        "Transient Qdrant error (attempt 2 of 4",
        "Transient Qdrant error (attempt 3 of 4",
    ]


async def test_async_tries_are_counted_across_the_plain_first_try(caplog):
    policy = RetryPolicy(attempts=3, initial_wait=0.01, max_wait=0.02, jitter=0)
    errors = [http(503), http(503), http(503)]
    calls = []

    async def function() -> str:
        calls.append(1)
        raise errors[len(calls) - 1]

    with caplog.at_level("WARNING", logger="t5_vectors"), pytest.raises(UnexpectedResponse) as info:
        await policy.acall(function)
    assert info.value is errors[2]
    assert len(calls) == 3
    assert [r.getMessage().split(")")[0][-6:] for r in caplog.records] == ["1 of 3", "2 of 3"]
