"""Filters mean the same everywhere and never go silent; what a collection holds is listable.

Through each interface where a user meets them: Python (``QdrantIndex``), the command line as a
process, and the HTTP API over a socket (the MCP tools have their own tests in tests/serve):

* one filter language: a dict of metadata values or ``KEY=VALUE`` strings, a relative
  ``source`` resolved against the working folder as the command line always did;
* a key no stored document has, or a value of a kind its key never holds, still runs and says
  so (a ``FilterWarning``, a line on stderr, a ``warnings`` field), naming the stored keys;
* ``sources`` lists each file with its chunk count and when it was stored;
* ``info`` shows the model's max length and the chunk size file ingestion used.
"""

from __future__ import annotations

import asyncio
import json
import warnings
from pathlib import Path

import pytest
from langchain_core.documents import Document

from t5_vectors import FilterWarning, QdrantIndex
from t5_vectors.files import ingest_files
from t5_vectors.index import index as index_module
from tests.cli_process import run_cli


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "ferns.md").write_text("Ferns like humidity and indirect light.\n")
    (folder / "cacti.md").write_text("Cacti need sun and very little water.\n")
    return folder


@pytest.fixture
def index(tiny_encoder, notes: Path, tmp_path: Path):
    with QdrantIndex(tiny_encoder, collection_name="notes", storage=tmp_path / "db") as made:
        ingest_files(made, [notes])
        yield made


def _caught(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call()
    return result, [str(w.message) for w in caught if w.category is FilterWarning]


def test_a_relative_source_means_the_same_in_a_dict_and_in_key_value_form(
    index, notes, monkeypatch
):
    monkeypatch.chdir(notes.parent)
    for given in ({"source": "notes/ferns.md"}, "source=notes/ferns.md", ["source=notes/ferns.md"]):
        hits, said = _caught(lambda given=given: index.search("light", k=4, filter=given))
        assert {doc.metadata["source"] for doc, _ in hits} == {str(notes / "ferns.md")}, given
        assert said == [], given
    assert index.count({"source": "notes/cacti.md"}) == 1
    index.delete(filter="source=notes/cacti.md")
    assert index.count() == 1


def test_a_misspelt_key_or_a_value_of_another_kind_runs_and_says_so(index):
    hits, said = _caught(lambda: index.search("light", filter={"sorce": "x"}))
    assert hits == []
    assert len(said) == 1
    assert "'sorce'" in said[0]
    assert "chunk, source, start_index" in said[0]  # the keys the stored documents hold
    hits, said = _caught(lambda: index.search("light", filter="chunk=abc"))
    assert hits == []
    assert len(said) == 1
    assert "'chunk'" in said[0]
    assert "number" in said[0]
    assert "text 'abc'" in said[0]
    _, said = _caught(lambda: index.search("light", filter={"chunk": 0, "source": {"$ne": "x"}}))
    assert said == []
    assert index.filter_hints({"chunk": 0}) == []
    assert asyncio.run(index.afilter_hints({"sorce": "x"})) == index.filter_hints({"sorce": "x"})


def test_keys_beyond_the_sample_are_looked_for_and_writes_refresh_what_is_known(index, monkeypatch):
    monkeypatch.setattr(index_module, "KEY_SAMPLE", 1)
    index.add([Document("a late note", metadata={"topic": "late"}, id="zz-last")])
    _, said = _caught(lambda: index.search("note", filter={"topic": "late"}))
    assert said == []  # not in the one-point sample, found by a count over the collection
    index.add([Document("tagged", metadata={"tag": "t"}, id="aa-first")])
    _, said = _caught(lambda: index.search("note", filter={"tag": 1}))
    assert len(said) == 1
    assert "'tag'" in said[0]
    assert "text" in said[0]  # sampled after the write: the new key and its kind are known


def test_a_key_the_sample_lacks_is_counted_once_until_a_write(index, monkeypatch):
    monkeypatch.setattr(index_module, "KEY_SAMPLE", 1)
    counted: list[object] = []
    count = type(index.collection).count

    def counting(collection, filter=None):
        counted.append(filter)
        return count(collection, filter)

    monkeypatch.setattr(type(index.collection), "count", counting)
    for _ in range(3):
        _, said = _caught(lambda: index.search("note", filter={"sorce": "x", "chunk": 0}))
        assert len(said) == 1
    assert len(counted) == 1  # 'sorce', which the one-point sample lacks: once, not per search
    index.add([Document("tagged", metadata={"sorce": "x"}, id="aa-first")])
    _, said = _caught(lambda: index.search("note", filter={"sorce": "x"}))
    assert said == []  # the write forgot what was counted: the key is stored now


def test_search_with_hints_returns_them_instead_of_warning(index):
    (found, hints), said = _caught(lambda: index.search_with_hints("light", filter={"sorce": "x"}))
    assert (found, said) == ([], [])
    assert hints == index.filter_hints({"sorce": "x"})
    assert len(hints) == 1
    again = asyncio.run(index.asearch_with_hints("light", filter={"sorce": "x"}))
    assert again == (found, hints)


def test_async_search_warns_as_the_sync_one_does(index):
    async def search():
        return await index.asearch("light", filter={"sorce": "x"})

    hits, said = _caught(lambda: asyncio.run(search()))
    assert hits == []
    assert len(said) == 1


def test_sources_list_each_file_with_its_chunks_and_when_it_was_stored(index, notes):
    index.add([Document("no source here")])
    listed = index.sources()
    assert [s.source for s in listed] == [str(notes / "cacti.md"), str(notes / "ferns.md"), None]
    assert [s.chunks for s in listed] == [1, 1, 1]
    assert all(s.stored and s.stored.endswith("+00:00") for s in listed[:2])
    assert listed[2].stored is None
    assert asyncio.run(index.asources()) == listed


def test_the_command_line_warns_lists_sources_and_shows_the_chunking(st5_path, notes, tmp_path):
    model = ["--model", str(st5_path), "--offline", "--device", "cpu", "--dtype", "float32"]
    ingest = run_cli("ingest", "notes", "--collection", "n", "--quiet", *model, cwd=tmp_path)
    assert ingest.returncode == 0, ingest.stderr
    wanted = ["--filter", "source=notes/ferns.md", "--json"]
    relative = run_cli("search", "light", "--collection", "n", *wanted, cwd=tmp_path)
    assert relative.returncode == 0, relative.stderr
    assert {r["source"] for r in json.loads(relative.stdout)["results"]} == {
        str(notes / "ferns.md")
    }
    missing = run_cli("search", "light", "--collection", "n", "--filter", "sorce=x", cwd=tmp_path)
    assert missing.returncode == 0
    lines = [line for line in missing.stderr.splitlines() if line]
    assert len(lines) == 1, missing.stderr
    assert lines[0].startswith("t5-vectors: warning: ")
    assert "'sorce'" in lines[0]
    assert "chunk, source, start_index" in lines[0]
    listed = run_cli("sources", "--collection", "n", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    sources = json.loads(listed.stdout)["sources"]
    assert [(s["source"], s["chunks"]) for s in sources] == [
        (str(notes / "cacti.md"), 1),
        (str(notes / "ferns.md"), 1),
    ]
    text = run_cli("sources", "--collection", "n", cwd=tmp_path)
    assert "2 sources, 2 chunks" in text.stdout
    assert "notes/ferns.md" in text.stdout  # shown relative to the working folder
    typo = run_cli("sources", "--collection", "nn", cwd=tmp_path)
    assert typo.returncode == 2
    assert "'n'" in typo.stderr  # the collections that exist
    info = run_cli("info", "--collection", "n", "--json", cwd=tmp_path)
    described = json.loads(info.stdout)["collections"][0]
    assert described["max_length"] > 0
    assert set(described["chunking"]) == {"chunk_tokens", "chunk_overlap"}
    shown = run_cli("info", "--collection", "n", cwd=tmp_path).stdout
    assert f"model reads up to {described['max_length']} tokens" in shown
    assert f"files chunked by {described['chunking']['chunk_tokens']} tokens" in shown
