"""The examples run with a tiny local model, and do what they say."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from langchain_core.language_models.fake_chat_models import ParrotFakeChatModel

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sample_docs_are_a_small_real_corpus():
    files = sorted(p.name for p in (EXAMPLES / "docs").iterdir())
    assert 8 <= len(files) <= 12
    assert all(name.endswith((".md", ".txt")) for name in files)
    words = [len((EXAMPLES / "docs" / name).read_text().split()) for name in files]
    assert min(words) > 100


def test_rag_chain_puts_the_retrieved_chunks_in_the_prompt(st5_path, capsys):
    rag = _load("rag_chain")
    llm = ParrotFakeChatModel()
    question = "How do I repot a plant?"
    result = rag.main(["--model", str(st5_path), "--question", question, "-k", "2"], llm=llm)
    retrieved = result["retrieved"]
    assert len(retrieved) == 2
    assert all(Path(doc.metadata["source"]).parent == EXAMPLES / "docs" for doc in retrieved)
    # The parrot answers with the prompt it read: the question and the retrieved chunks.
    answer = result["answer"]
    assert answer.startswith("Context:\n[1] (")
    assert answer.endswith(f"Question: {question}")
    for doc in retrieved:
        assert doc.page_content in answer
    assert "Retrieved: " in capsys.readouterr().out


def test_agent_tool_concurrent_calls_match_one_by_one(st5_path, tiny_encoder, capsys):
    agent = _load("agent_tool")
    result = agent.main(["--model", str(st5_path), "-k", "2"])
    assert len(result["results"]) == len(result["questions"]) == 8
    assert "8 concurrent tool calls" in capsys.readouterr().out
    tool, index = agent.build_tool(tiny_encoder, EXAMPLES / "docs", 2)
    assert tool.name == "search_plant_care_notes"
    questions = list(agent.QUESTIONS) * 3
    results = asyncio.run(agent.ask_concurrently(tool, questions))
    # The same calls made one at a time give the same answers, in the same order.
    one_by_one = [tool.invoke({"query": q}) for q in questions]
    index.close()
    assert results == one_by_one
    assert all(isinstance(text, str) and text for text in results)
    assert len(set(results)) > 1  # different questions found different chunks


def test_ingest_loader_is_idempotent(st5_path, tmp_path):
    loader = _load("ingest_loader")
    result = loader.main(["--model", str(st5_path), "--qdrant-path", str(tmp_path / "db")])
    first, second = result["reports"]
    assert first.written == result["stored"] > 11  # more chunks than files
    assert (second.written, second.skipped) == (0, first.written)
    sources = {doc.metadata["source"] for doc, _ in result["hits"]}
    assert sources <= {p.name for p in (EXAMPLES / "docs").iterdir()}


@pytest.mark.parametrize("name", ["rag_chain", "agent_tool", "ingest_loader"])
def test_examples_take_the_model_from_the_environment(name, monkeypatch, st5_path):
    monkeypatch.setenv("T5_VECTORS_MODEL", str(st5_path))
    assert str(st5_path) == _load(name).DEFAULT_MODEL
