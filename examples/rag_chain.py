"""Retrieval-augmented generation over ``examples/docs/``: T5 retriever -> prompt -> chat model.

Run it (the model defaults to sentence-t5-base from the hub; any local folder works too)::

    python examples/rag_chain.py --question "How often should I water a fern?"
    T5_VECTORS_MODEL=/models/sentence-t5-base python examples/rag_chain.py

The chat model is LangChain's ``ParrotFakeChatModel``, which answers with the prompt it was
given, so the script runs with no API key and shows exactly what a real model would read.
Swap in any chat model, for example ``ChatOpenAI(model="gpt-4o-mini")`` from
``langchain-openai``: the chain does not change.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import ParrotFakeChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnablePassthrough

from t5_vectors import QdrantIndex, T5Encoder, T5QdrantVectorStore
from t5_vectors.files import ingest_files

DOCS = Path(__file__).parent / "docs"
DEFAULT_MODEL = os.environ.get("T5_VECTORS_MODEL", "sentence-transformers/sentence-t5-base")

PROMPT = ChatPromptTemplate.from_messages(
    [
        ("system", "Answer the question using only the context. Say so if it is not there."),
        ("human", "Context:\n{context}\n\nQuestion: {question}"),
    ]
)


def format_docs(documents: list[Document]) -> str:
    """The retrieved chunks as numbered context passages, with their file names."""
    return "\n\n".join(
        f"[{i}] ({Path(doc.metadata['source']).name}) {doc.page_content}"
        for i, doc in enumerate(documents, start=1)
    )


def build_chain(retriever: BaseRetriever, llm: BaseChatModel) -> Runnable[str, str]:
    """question -> {context: retrieved chunks, question} -> prompt -> chat model -> text."""
    return (
        {"context": retriever | format_docs, "question": RunnablePassthrough()}
        | PROMPT
        | llm
        | StrOutputParser()
    )


def main(argv: Sequence[str] | None = None, llm: BaseChatModel | None = None) -> dict[str, Any]:
    """Index the docs in memory, ask one question, print and return what happened."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL, help="hub id or local folder")
    parser.add_argument("--docs", default=str(DOCS), help="folder of documents")
    parser.add_argument("--question", default="How often should I water my plants?")
    parser.add_argument("-k", type=int, default=3, help="chunks to retrieve")
    args = parser.parse_args(argv)

    with T5Encoder.from_pretrained(args.model) as encoder:
        index = QdrantIndex(encoder, collection_name="rag-example", storage=":memory:")
        ingest_files(index, [args.docs])
        retriever = T5QdrantVectorStore(index=index).as_retriever(search_kwargs={"k": args.k})
        chain = build_chain(retriever, llm or ParrotFakeChatModel())
        retrieved = retriever.invoke(args.question)
        answer = chain.invoke(args.question)
        index.close()
    sources = [Path(doc.metadata["source"]).name for doc in retrieved]
    print(f"Question: {args.question}\nRetrieved: {', '.join(sources)}\n\nAnswer:\n{answer}")
    return {"question": args.question, "retrieved": retrieved, "answer": answer}


if __name__ == "__main__":
    main()
