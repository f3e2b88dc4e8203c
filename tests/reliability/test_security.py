"""Security: no pickled code runs, no remote code is trusted, API keys never leak.

* A pickle planted as ``2_Dense/pytorch_model.bin`` (or as the T5 weights) would create a file
  when unpickled; loading must refuse it with ``UnsafeCheckpointError`` and the file must not
  exist afterwards. The same payload is first shown to be live with ``pickle.loads``.
* ``from_pretrained`` calls never pass ``trust_remote_code``, and a checkpoint whose config points
  at Python code (``auto_map``) loads without running it.
* An API key is sent to a local fake Qdrant (a thread on 127.0.0.1 that answers 403 and records
  the headers it received) and to a closed port; the secret must appear in no ``repr``/``str``,
  log record (DEBUG, every logger), warning, exception message or traceback, nor CLI output.
* An API key over plain http to another machine raises ``InsecureConnectionWarning``, once per
  connection; https and local hosts do not.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import logging
import pickle
import shutil
import threading
import traceback
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from qdrant_client import AsyncQdrantClient, QdrantClient

import t5_vectors
from t5_vectors import (
    InsecureConnectionWarning,
    QdrantIndex,
    T5Embeddings,
    T5Encoder,
    T5QdrantVectorStore,
    UnsafeCheckpointError,
    open_storage,
)
from t5_vectors.storage.open import warn_if_insecure
from t5_vectors.testing import build_sentence_transformers_checkpoint, build_t5_checkpoint

AREA = "security"


def describe(error: BaseException | None) -> str:
    if error is None:
        return "accepted"
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0][:160]}" if lines else type(error).__name__


class Plant:
    """Unpickling this creates *marker*: proof that code from the file ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def live_payload(marker: Path, key: str) -> bytes:
    """A state-dict pickle carrying :class:`Plant`, checked to be live (then cleaned up)."""
    payload = pickle.dumps({key: Plant(marker)})
    handle = pickle.loads(payload)[key]  # the payload really runs when unpickled
    handle.close()
    assert marker.exists()
    marker.unlink()
    return payload


# --------------------------------------------------------------------------------- pickles
@pytest.mark.parametrize(
    "where", ["2_Dense/pytorch_model.bin", "pytorch_model.bin (T5 weights)"], ids=["dense", "t5"]
)
def test_malicious_pickle_is_refused_and_never_runs(where, tmp_path, reliability):
    marker = tmp_path / "PAYLOAD_RAN"
    if where.startswith("2_Dense"):
        folder = build_sentence_transformers_checkpoint(tmp_path / "st", dense_format="bin")
        target = folder / "2_Dense" / "pytorch_model.bin"
        target.write_bytes(live_payload(marker, "linear.weight"))
    else:
        folder = build_t5_checkpoint(tmp_path / "t5", variant="v1_1", seed=2)
        (folder / "model.safetensors").unlink()
        target = folder / "pytorch_model.bin"
        target.write_bytes(live_payload(marker, "shared.weight"))
    errors = []
    for load in (
        lambda: T5Encoder.from_pretrained(folder, device="cpu"),
        lambda: T5Embeddings(str(folder), device="cpu"),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's note about the pickle protocol
            try:
                load()
            except Exception as err:
                errors.append(err)
            else:
                errors.append(None)  # type: ignore[arg-type]
    ran = marker.exists()
    reliability(
        area=AREA,
        case=f"malicious pickle planted as {where} (creates a file when unpickled)",
        expected="UnsafeCheckpointError; the payload never runs",
        outcome=f"{sum(isinstance(e, UnsafeCheckpointError) for e in errors)}/{len(errors)} "
        f"loads raised UnsafeCheckpointError; e.g. {describe(errors[0])}; payload ran: {ran}",
        lost="nothing" if not ran else "CODE EXECUTED",
    )
    assert not ran
    for error in errors:
        assert isinstance(error, UnsafeCheckpointError), describe(error)


def test_remote_code_is_never_trusted(tmp_path, st5_path, monkeypatch, reliability):
    """No ``trust_remote_code``; a checkpoint pointing at its own Python code loads without it."""
    import transformers

    calls: list[tuple[str, dict[str, Any]]] = []
    for cls_name in ("AutoTokenizer", "T5EncoderModel", "MT5EncoderModel"):
        cls = getattr(transformers, cls_name)
        original = cls.from_pretrained.__func__

        def spy(klass: Any, *args: Any, _name: str = cls_name, _f: Any = original, **kw: Any):
            calls.append((_name, dict(kw)))
            return _f(klass, *args, **kw)

        monkeypatch.setattr(cls, "from_pretrained", classmethod(spy))

    folder = shutil.copytree(st5_path, tmp_path / "st5-auto-map")
    evil = tmp_path / "REMOTE_CODE_RAN"
    (folder / "evil.py").write_text(
        f"open({str(evil)!r}, 'w').close()\nclass EvilModel: ...\nclass EvilTokenizer: ...\n"
    )
    for name, key, value in (
        ("config.json", "auto_map", {"AutoModel": "evil.EvilModel"}),
        ("tokenizer_config.json", "auto_map", {"AutoTokenizer": ["evil.EvilTokenizer", None]}),
    ):
        data = json.loads((folder / name).read_text())
        data[key] = value
        (folder / name).write_text(json.dumps(data))
    with T5Encoder.from_pretrained(folder, device="cpu", dtype="float32") as encoder:
        vectors = encoder.encode(["still a plain T5"])
    trusted = [name for name, kw in calls if kw.get("trust_remote_code")]
    package = Path(t5_vectors.__file__).parent
    in_source = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if "trust_remote_code=True" in path.read_text()
    ]
    reliability(
        area=AREA,
        case="checkpoint with auto_map pointing at its own evil.py; trust_remote_code",
        expected="loads as plain T5 without running evil.py; trust_remote_code never passed",
        outcome=f"{len(calls)} from_pretrained calls, {len(trusted)} with trust_remote_code; "
        f"evil.py ran: {evil.exists()}; 'trust_remote_code=True' in {len(in_source)} package "
        f"files; vectors {vectors.shape}",
        lost="nothing" if not evil.exists() else "CODE EXECUTED",
    )
    assert {name for name, _ in calls} >= {"AutoTokenizer", "T5EncoderModel"}
    assert not trusted
    assert not evil.exists()
    assert not in_source


# --------------------------------------------------------------------------------- API keys
class FakeQdrant(http.server.BaseHTTPRequestHandler):
    """Answers every request with 403 and remembers the api-key headers it received."""

    received: ClassVar[list[str]] = []

    def _answer(self) -> None:
        FakeQdrant.received.append(self.headers.get("api-key", ""))
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        body = json.dumps({"status": {"error": "Forbidden: invalid api key"}, "time": 0}).encode()
        self.send_response(403)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

    def log_message(self, format: str, *args: Any) -> None:  # no stderr noise
        return


@pytest.fixture
def fake_qdrant() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeQdrant)
    FakeQdrant.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def everything_said(error: BaseException) -> str:
    """Message, repr, full traceback (causes included) and attributes of *error*."""
    parts = [str(error), repr(error), "".join(traceback.format_exception(error))]
    parts += [repr(value) for value in vars(error).values()]
    return "\n".join(parts)


def test_api_key_never_appears_in_repr_logs_warnings_or_errors(
    tiny_encoder, fake_qdrant, caplog, capsys, reliability
):
    secret = f"t5v-secret-{uuid.uuid4().hex}"
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "qdrant_client", "t5_vectors", "urllib3"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    texts: dict[str, str] = {}
    errors: dict[str, BaseException | None] = {}

    def attempt(name: str, call: Any) -> None:
        try:
            result = call()
            if asyncio.iscoroutine(result):
                asyncio.run(result)
        except Exception as err:
            errors[name] = err
            texts[f"error of {name}"] = everything_said(err)
        else:
            errors[name] = None

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        attempt(
            "QdrantIndex(storage=open_storage(fake, api_key=...))",
            lambda: QdrantIndex(tiny_encoder, storage=open_storage(fake_qdrant, api_key=secret)),
        )
        attempt(
            "QdrantIndex(storage=open_storage(closed port, api_key=...))",
            lambda: QdrantIndex(
                tiny_encoder, storage=open_storage("http://127.0.0.1:1", api_key=secret)
            ),
        )
        lazy = QdrantIndex(
            tiny_encoder,
            collection_name="lazy",
            storage=AsyncQdrantClient(url=fake_qdrant, api_key=secret),
        )
        store = T5QdrantVectorStore(index=lazy)
        for name, obj in {
            "QdrantIndex": lazy,
            "Connection": lazy.connection,
            "Connection.options": lazy.connection.options,
            "T5QdrantVectorStore": store,
            "CollectionSpec": lazy.spec,
            "RetryPolicy": lazy.retry,
        }.items():
            texts[f"repr/str of {name}"] = f"{obj!r} {obj!s}"
        attempt("QdrantIndex.asearch", lambda: lazy.asearch("query"))
        attempt("T5QdrantVectorStore.add_texts (sync twin)", lambda: store.add_texts(["x"]))
        attempt("QdrantIndex.aingest", lambda: lazy.aingest(["y"]))
    texts["warnings"] = "\n".join(str(w.message) for w in caught)
    texts["logs"] = caplog.text + "\n".join(
        f"{r.getMessage()} {r.args!r} {r.__dict__!r}" for r in caplog.records
    )
    out = capsys.readouterr()
    texts["stdout/stderr"] = out.out + out.err
    leaked = sorted(name for name, text in texts.items() if secret in text)
    sent = sum(header == secret for header in FakeQdrant.received)
    reliability(
        area=AREA,
        case="API key: repr/str, DEBUG logs (all loggers), warnings, exceptions and tracebacks",
        expected="the key is sent to the server and appears in none of them",
        outcome=f"server received the key in {sent} requests; {len(caplog.records)} log records, "
        f"{len(caught)} warnings, {sum(e is not None for e in errors.values())} exceptions "
        f"({', '.join(sorted({type(e).__name__ for e in errors.values() if e}))}); "
        f"leaked in: {leaked or 'none'}",
        lost="nothing" if not leaked else f"KEY LEAKED in {leaked}",
    )
    assert sent > 0, "the fake server never saw the key: the test would prove nothing"
    assert all(errors.values()), {name: describe(e) for name, e in errors.items()}
    assert caplog.records, "no log records captured: the log channel would prove nothing"
    assert not leaked


# ---------------------------------------------------------------------- insecure transport
INSECURE_CASES: list[tuple[dict[str, Any], bool]] = [
    ({"url": "http://db.example.com:6333", "api_key": "k"}, True),
    ({"url": "http://10.1.2.3:6333", "api_key": "k"}, True),
    ({"host": "db.example.com", "api_key": "k"}, True),
    ({"location": "http://db.example.com:6333", "api_key": "k"}, True),
    ({"url": "db.example.com:6333", "api_key": "k"}, True),
    ({"url": "http://db.example.com", "headers": {"Api-Key": "k"}}, True),
    ({"url": "https://db.example.com:6333", "api_key": "k"}, False),
    ({"host": "db.example.com", "https": True, "api_key": "k"}, False),
    ({"url": "http://localhost:6333", "api_key": "k"}, False),
    ({"url": "localhost:6333", "api_key": "k"}, False),
    ({"url": "http://127.0.0.2:6333", "api_key": "k"}, False),
    ({"url": "http://[::1]:6333", "api_key": "k"}, False),
    ({"url": "http://db.example.com:6333"}, False),
    ({"location": ":memory:", "api_key": "k"}, False),
]


def _warns(options: dict[str, Any]) -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_if_insecure(options)
    return [w for w in caught if issubclass(w.category, InsecureConnectionWarning)]


def test_api_key_over_plain_http_to_another_host_warns(tiny_encoder, reliability):
    table = [(options, expected, len(_warns(options))) for options, expected in INSECURE_CASES]
    wrong = [(options, expected, got) for options, expected, got in table if bool(got) != expected]
    # End to end, without network: creating clients does not connect.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        remote = QdrantClient(
            url="http://db.example.com:6333", api_key="k", check_compatibility=False
        )
        connection = open_storage(remote)
        twin = connection.async_client  # built from the same options: no second warning
        assert twin is not None
        index = QdrantIndex(
            tiny_encoder,
            storage=AsyncQdrantClient(
                url="http://10.1.2.3", api_key="k", check_compatibility=False
            ),
        )
        QdrantIndex(
            tiny_encoder,
            storage=AsyncQdrantClient(
                url="https://db.example.com", api_key="k", check_compatibility=False
            ),
        )
    ours = [w for w in caught if issubclass(w.category, InsecureConnectionWarning)]
    messages = {str(w.message) for w in ours}
    remote.close()
    asyncio.run(index.aclose())
    reliability(
        area=AREA,
        case="API key over plain http to a non-local host (14 option sets, 3 connections)",
        expected="InsecureConnectionWarning once per connection; none for https or local hosts",
        outcome=f"{len(table) - len(wrong)}/{len(table)} option sets as expected; "
        f"{len(ours)} warnings for 2 insecure + 1 https connections; e.g. "
        f"{sorted(messages)[0][:100] if messages else 'none'}",
        lost="nothing",
    )
    assert not wrong, wrong
    assert len(ours) == 2
    assert all("'k'" not in message for message in messages)


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_api_key_never_appears_in_cli_output(
    debug, fake_qdrant, st5_path, tmp_path, monkeypatch, capsys, caplog, reliability
):
    """``ingest`` and ``search`` against a server that refuses the key; nothing prints it."""
    from t5_vectors.cli import main

    secret = f"t5v-cli-secret-{uuid.uuid4().hex}"
    monkeypatch.setenv("T5V_TEST_KEY", secret)
    caplog.set_level(logging.DEBUG)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("A document about vectors.\n" * 5)
    common = ["--qdrant-url", fake_qdrant, "--api-key-env", "T5V_TEST_KEY"]
    model = ["--model", str(st5_path), "--device", "cpu", "--dtype", "float32"]
    commands = {
        "ingest": ["ingest", str(tmp_path / "docs"), "--collection", "c", *common, *model],
        "search": ["search", "vectors", "--collection", "c", *common, *model],
    }
    statuses = {}
    outputs = []
    for name, argv in commands.items():
        capsys.readouterr()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            statuses[name] = main(["--debug", *argv] if debug else argv)
        captured = capsys.readouterr()
        outputs.append(captured.out + captured.err)
        outputs += [str(w.message) for w in caught]
    text = "\n".join(outputs) + caplog.text
    sent = sum(header == secret for header in FakeQdrant.received)
    leaked = secret in text
    reliability(
        area=AREA,
        case=f"API key in CLI output: ingest and search{' with --debug' if debug else ''}, "
        "--api-key-env, server answers 403",
        expected="the key is sent and never printed (stdout, stderr, warnings, logs)",
        outcome=f"exit statuses {statuses}; server received the key in {sent} requests; "
        f"{len(text)} characters printed or logged; key printed: {leaked}",
        lost="nothing" if not leaked else "KEY LEAKED",
    )
    assert sent > 0, "the fake server never saw the key: the test would prove nothing"
    assert all(status != 0 for status in statuses.values())
    assert not leaked
