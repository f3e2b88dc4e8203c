"""A T5 retriever as an agent tool, called concurrently (as agents fan out their searches).

Run it::

    python examples/agent_tool.py
    python examples/agent_tool.py --model /models/sentence-t5-base

``create_retriever_tool`` turns the retriever into a LangChain tool; give it to any agent
(``create_agent(model, tools=[tool])`` in ``langchain``, or ``llm.bind_tools([tool])``). Agents
often issue several searches at once: the tool's async path awaits the shared encoder, whose
micro-batcher folds the concurrent queries into shared forward passes, with no thread per call.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.tools import BaseTool, create_retriever_tool

from t5_vectors import QdrantIndex, T5Encoder, T5QdrantVectorStore
from t5_vectors.files import ingest_files

DOCS = Path(__file__).parent / "docs"
DEFAULT_MODEL = os.environ.get("T5_VECTORS_MODEL", "sentence-transformers/sentence-t5-base")

QUESTIONS = (
    "How often should I water?",
    "Which window gives the strongest light?",
    "What potting mix do cacti need?",
    "How do I get rid of spider mites?",
    "When is the best time to repot?",
    "How can I raise the humidity for ferns?",
    "How do I grow pothos from cuttings?",
    "Why are the leaves turning yellow?",
)


def build_tool(encoder: T5Encoder, docs: str | Path, k: int) -> tuple[BaseTool, QdrantIndex]:
    """Index *docs* in memory and wrap its retriever as a tool (close the index when done)."""
    index = QdrantIndex(encoder, collection_name="agent-example", storage=":memory:")
    ingest_files(index, [docs])
    retriever = T5QdrantVectorStore(index=index).as_retriever(search_kwargs={"k": k})
    tool = create_retriever_tool(
        retriever,
        "search_plant_care_notes",
        "Search the plant-care notes. Input: a question or keywords about houseplants.",
    )
    return tool, index


async def ask_concurrently(tool: BaseTool, questions: Sequence[str]) -> list[str]:
    """Call the tool once per question, all at the same time; results in question order."""
    return list(await asyncio.gather(*(tool.ainvoke({"query": q}) for q in questions)))


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Index the docs in memory, expose the retriever as a tool, and call it concurrently."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL, help="hub id or local folder")
    parser.add_argument("--docs", default=str(DOCS), help="folder of documents")
    parser.add_argument("-k", type=int, default=2, help="chunks per search")
    args = parser.parse_args(argv)

    with T5Encoder.from_pretrained(args.model) as encoder:
        tool, index = build_tool(encoder, args.docs, args.k)
        started = time.perf_counter()
        results = asyncio.run(ask_concurrently(tool, QUESTIONS))
        elapsed = time.perf_counter() - started
        index.close()
    for question, result in zip(QUESTIONS, results, strict=True):
        print(f"{question}\n  -> {result[:120].replace(chr(10), ' ')}...")
    print(f"{len(QUESTIONS)} concurrent tool calls in {elapsed:.2f}s")
    return {"tool": tool, "questions": list(QUESTIONS), "results": results, "seconds": elapsed}


if __name__ == "__main__":
    main()
