"""Files: discovery, text vs binary, decoding policy, HTML, and token-measured chunks."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from t5_vectors.errors import InvalidInputError, SourceFileError
from t5_vectors.files import ChunkSettings, TokenChunker, discover, html_to_text, read_file
from t5_vectors.files.chunking import language_of


def test_discover_walks_sorted_skips_hidden_and_applies_patterns(tmp_path):
    for name in ("b.md", "a.txt", "sub/c.md", "sub/d.py", ".git/x.md", "__pycache__/y.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    names = lambda found: [p.relative_to(tmp_path).as_posix() for p in found.files]  # noqa: E731
    assert names(discover([tmp_path])) == ["a.txt", "b.md", "sub/c.md", "sub/d.py"]
    assert names(discover([tmp_path], glob=["*.md"])) == ["b.md", "sub/c.md"]
    assert names(discover([tmp_path], glob=["sub/*"], exclude=["*.py"])) == ["sub/c.md"]
    hidden = tmp_path / ".git" / "x.md"
    both = discover([tmp_path / "sub", hidden, tmp_path / "sub" / "c.md"])
    assert names(both) == [".git/x.md", "sub/c.md", "sub/d.py"]  # named files always count
    assert both.covers(str(tmp_path / "sub" / "gone.md"))
    assert both.covers(str(hidden))
    assert not both.covers(str(tmp_path / "b.md"))


def test_discover_errors(tmp_path):
    with pytest.raises(SourceFileError, match="found nothing at") as caught:
        discover([tmp_path / "missing"])
    assert caught.value.path.endswith("missing")
    with pytest.raises(InvalidInputError, match="expected a list"):
        discover(str(tmp_path))
    with pytest.raises(InvalidInputError, match="non-empty glob"):
        discover([tmp_path], glob=[" "])


@pytest.mark.parametrize(
    ("data", "text", "binary", "replaced"),
    [
        (b"plain ascii\n", "plain ascii\n", False, 0),
        ("caf\u00e9 \u2713".encode(), "caf\u00e9 \u2713", False, 0),
        (codecs.BOM_UTF8 + b"bom", "bom", False, 0),
        (codecs.BOM_UTF16_LE + "wide".encode("utf-16-le"), "wide", False, 0),
        (b"latin-1 caf\xe9 text", "latin-1 caf\ufffd text", False, 1),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "", True, 0),
        (bytes(range(128, 256)) * 4, "", True, 0),  # mostly invalid UTF-8
    ],
)
def test_read_policy(tmp_path, data, text, binary, replaced):
    path = tmp_path / "f.txt"
    path.write_bytes(data)
    content = read_file(path)
    assert (content.text, content.binary, content.replaced) == (text, binary, replaced)


def test_html_is_read_as_visible_text(tmp_path):
    page = (
        "<html><head><title>Ferns</title><style>p {color: red}</style>"
        "<script>var x = 1;</script></head><body><h1>Ferns</h1><p>Ferns like\n  humid "
        "air &amp; shade.</p><ul><li>Boston fern</li><li>Maidenhair</li></ul></body></html>"
    )
    assert html_to_text(page) == (
        "Ferns\n\nFerns like humid air & shade.\n\nBoston fern\n\nMaidenhair"
    )
    path = tmp_path / "ferns.html"
    path.write_text(page)
    assert read_file(path).text.startswith("Ferns\n\nFerns like humid air")


def test_chunks_fit_the_model_and_point_into_the_text(tiny_encoder, texts):
    chunker = TokenChunker(tiny_encoder, ChunkSettings(24, 4))
    text = "\n\n".join(t for t in texts if t) * 3
    chunks = chunker.split(text)
    assert len(chunks) > 5
    for chunk in chunks:
        assert chunk.text
        assert text[chunk.start_index : chunk.start_index + len(chunk.text)] == chunk.text
        assert tiny_encoder.count_tokens([chunk.text])[0] <= 24
    covered = [False] * len(text)
    for chunk in chunks:
        covered[chunk.start_index : chunk.start_index + len(chunk.text)] = [True] * len(chunk.text)
    assert all(covered[i] for i, char in enumerate(text) if not char.isspace())  # nothing lost
    assert chunker.split("  \n ") == []


def test_a_long_unbroken_word_is_still_cut_to_fit(tiny_encoder):
    chunker = TokenChunker(tiny_encoder, ChunkSettings(16, 0))
    word = "Pneumonoultramicroscopicsilicovolcanoconiosis" * 8
    chunks = chunker.split(word)
    assert "".join(chunk.text for chunk in chunks) == word
    assert max(tiny_encoder.count_tokens([chunk.text])[0] for chunk in chunks) <= 16


def test_defaults_and_validation(tiny_encoder):
    chunker = TokenChunker(tiny_encoder)
    assert (chunker.chunk_tokens, chunker.chunk_overlap) == (64, 8)  # capped at max_length
    with pytest.raises(InvalidInputError, match="expected fewer tokens"):
        ChunkSettings(32, 32)
    with pytest.raises(InvalidInputError, match="at least 8"):
        ChunkSettings(4)
    with pytest.raises(InvalidInputError, match="0 or more"):
        ChunkSettings(32, -1)
    with pytest.raises(InvalidInputError, match="expected an int"):
        ChunkSettings("32")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="at most the model's max_length"):
        TokenChunker(tiny_encoder, ChunkSettings(128))
    with pytest.raises(InvalidInputError, match="expected fewer tokens"):
        TokenChunker(tiny_encoder, ChunkSettings(None, 64))


def test_languages_by_suffix():
    assert language_of(Path("a/b.md")).value == "markdown"
    assert language_of("x.PY").value == "python"
    assert language_of("notes.txt") is None


def test_a_file_unreadable_mid_run_keeps_its_chunks(tiny_encoder, tmp_path, monkeypatch):
    from t5_vectors import QdrantIndex
    from t5_vectors.files import ingest as ingest_module
    from t5_vectors.files import ingest_files

    (tmp_path / "a.txt").write_text("Ferns like humid air and shade. " * 8)
    (tmp_path / "b.txt").write_text("Cacti like sun and dry soil. " * 8)
    index = QdrantIndex(tiny_encoder, collection_name="c", storage=":memory:")
    first = ingest_files(index, [tmp_path])
    stored = index.count()
    assert stored == first.chunks
    (tmp_path / "a.txt").write_text("Ferns changed. " * 3)
    real = ingest_module.read_file

    def flaky(path):
        if path.name == "a.txt":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(ingest_module, "read_file", flaky)
    second = ingest_files(index, [tmp_path])
    assert second.unreadable == (str(tmp_path / "a.txt"),)
    assert (second.files, second.written, second.stale_removed) == (1, 0, 0)
    assert index.count() == stored  # a.txt's old chunks are kept, not cleaned up
    index.close()


def test_progress_counts_what_is_stored_through_every_phase(tiny_encoder, tmp_path):
    from t5_vectors import QdrantIndex
    from t5_vectors.files import ingest_files
    from t5_vectors.files.ingest import GROUP_BATCHES, Progress

    for n in range(6):
        (tmp_path / f"f{n}.txt").write_text(f"Note {n} about watering ferns in winter. " * 12)
    (tmp_path / "gone.txt").write_text("A file removed later. " * 4)
    index = QdrantIndex(tiny_encoder, collection_name="c", storage=":memory:")
    ingest_files(index, [tmp_path])
    (tmp_path / "gone.txt").unlink()
    for n in range(6):  # changed files are split again (unchanged ones are not: tested below)
        (tmp_path / f"f{n}.txt").write_text(f"Note {n} about watering ferns in June. " * 12)
    seen: list[Progress] = []
    report = ingest_files(index, [tmp_path], batch_size=2, prune=True, progress=seen.append)
    phases = [p.phase for p in seen]
    assert phases[0] == "ingest"
    assert phases.index("stale") < phases.index("prune")
    during = [p for p in seen if p.phase == "ingest"]
    # Told after each group of GROUP_BATCHES batches is stored, counts only ever grow.
    assert len(during) >= report.chunks // (2 * GROUP_BATCHES)
    stored = [p.chunks_stored for p in during]
    assert stored == sorted(stored)
    assert stored[-1] == report.written + report.skipped == report.chunks
    assert during[-1].files_done == during[-1].files == 6
    stale = [p for p in seen if p.phase == "stale"]
    assert stale[-1].sources_checked == stale[-1].sources == 6
    assert report.pruned > 0
    index.close()


def test_the_search_index_is_built_once_at_the_end(tiny_encoder, tmp_path):
    from t5_vectors import QdrantIndex
    from t5_vectors.files import ingest_files
    from t5_vectors.files.ingest import Progress

    docs = tmp_path / "docs"
    docs.mkdir()
    for n in range(6):
        (docs / f"f{n}.txt").write_text(f"Note {n} about repotting a cactus in spring. " * 12)
    index = QdrantIndex(tiny_encoder, collection_name="c", storage=str(tmp_path / "store"))
    backend = index.backend
    builds: list[str] = []
    real = backend.build_index

    def spy(collection, *, progress=None):
        builds.append(collection)
        real(collection, progress=progress)

    backend.build_index = spy
    seen: list[Progress] = []
    report = ingest_files(index, [docs], batch_size=2, progress=seen.append)
    assert report.written == report.chunks > 2 * 4  # several groups were written
    assert builds == ["c"]  # one build over the whole run, not one per group
    assert seen[-1].phase == "index"
    builds.clear()
    again = ingest_files(index, [docs], batch_size=2, progress=seen.append)
    assert again.written == 0
    assert builds == []  # nothing written: nothing to index
    index.close()


def test_an_ingest_error_names_the_run_wide_chunks_and_file(tiny_encoder, tmp_path, monkeypatch):
    from t5_vectors import IngestError, QdrantIndex, T5Encoder
    from t5_vectors.files import ingest_files

    for n in range(4):
        (tmp_path / f"f{n}.txt").write_text(f"Note {n} about light for cacti. " * 12)
    index = QdrantIndex(tiny_encoder, collection_name="c", storage=":memory:")
    real = T5Encoder.encode
    calls = {"n": 0}

    def broken(self, texts, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 6:
            raise RuntimeError("out of memory.")  # a cause that ends its own sentence
        return real(self, texts, *args, **kwargs)

    monkeypatch.setattr(T5Encoder, "encode", broken)
    with pytest.raises(IngestError) as caught:
        ingest_files(index, [tmp_path], batch_size=1)
    assert "out of memory. 5 chunks are stored" in str(caught.value)
    error = caught.value
    assert error.failure.first == error.failure.last == 5  # the sixth chunk of the run
    assert "while encoding" in str(error)
    assert str(tmp_path) in str(error)
    assert error.report.written == index.count() == 5
    index.close()
