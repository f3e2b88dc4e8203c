"""CLI fixtures: a small folder of documents, an embedded Qdrant folder, and a runner."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from t5_vectors.cli import main
from t5_vectors.storage.open import Storage, open_storage

PARAGRAPH = (
    "Water the plant when the top of the soil is dry, then let the pot drain completely. "
    "Roots need air as well as water, and soggy soil makes them rot. "
)


@dataclass
class Run:
    status: int
    out: str
    err: str

    def json(self) -> dict:
        return json.loads(self.out)


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "watering.md").write_text("# Watering\n\n" + PARAGRAPH * 6)
    (folder / "light.txt").write_text("Light is food for a plant. " * 12)
    (folder / "sub" / "pests.md").write_text("Spider mites leave fine webbing. " * 10)
    (folder / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (folder / ".hidden.md").write_text("never read")
    return folder


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "qdrant"


@pytest.fixture
def cli(capsys, st5_path: Path, store: Path) -> Callable[..., Run]:
    """``cli("ingest", path, ...)``: run a command with the tiny model and the temporary store.

    ``model=None`` leaves out ``--model`` (the recorded model is used), ``qdrant=False`` leaves
    out ``--qdrant-path``.
    """

    def run(*argv: str, model: object = st5_path, qdrant: bool = True) -> Run:
        args = list(argv)
        if args[0] in ("ingest", "search"):
            args += ["--device", "cpu", "--dtype", "float32"]
            if model is not None:
                args += ["--model", str(model)]
        if qdrant:
            args += ["--qdrant-path", str(store)]
        capsys.readouterr()
        status = main(args)
        captured = capsys.readouterr()
        return Run(status, captured.out, captured.err)

    return run


def open_store(store: Path) -> Storage:
    """The CLI's store, opened as the CLI opens it (Edge unless local mode wrote it)."""
    return open_storage(store)


@pytest.fixture
def points(store: Path) -> Callable[[str], dict[str, dict]]:
    """``points(collection)``: ``{document id: payload}`` of every stored point."""

    def read(collection: str) -> dict[str, dict]:
        connection = open_store(store)
        try:
            records, _ = connection.backend.scroll(collection, limit=10_000, with_payload=True)
        finally:
            connection.close()
        return {r.payload["document_id"]: dict(r.payload) for r in records if r.payload}

    return read
