"""The async twins are current: each is what ``scripts/generate_async.py`` makes of its sync code.

A sync method edited without regenerating its twin fails here, naming the file and the command
that rewrites it. The generator's own rules are checked on a small class as well.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _generator():
    spec = importlib.util.spec_from_file_location(
        "generate_async", ROOT / "scripts" / "generate_async.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate_async"] = module
    spec.loader.exec_module(module)
    return module


GENERATOR = _generator()


@pytest.mark.parametrize("twins", GENERATOR.TWINS, ids=lambda t: f"{t.path}:{t.scope}")
def test_every_twin_is_current(twins):
    text, wanted = GENERATOR.current(twins)
    assert text == wanted, (
        f"{twins.path}: the async twins of {twins.scope or 'the module'} are stale; run "
        "python scripts/generate_async.py"
    )


def test_a_twin_awaits_what_its_rules_name():
    twins = GENERATOR.Twins(
        "example.py",
        scope="Store",
        names=("get", "items"),
        calls={"self.backend.*": "self.abackend.*", "fetch": "afetch"},
        names_map={"Iterator": "AsyncIterator"},
        contexts={"self._lock": "self._alock"},
        iterators=frozenset({"self.backend.pages"}),
    )
    source = (
        "class Store:\n"
        "    def get(self, key: str) -> int:\n"
        '        """Doc."""\n'
        "        with self._lock:\n"
        "            value = self.backend.read(key) + len(self.name)\n"
        "        return fetch(value)\n"
        "\n"
        "    def items(self) -> Iterator[int]:\n"
        "        for page in self.backend.pages():\n"
        "            yield self.get(page)\n"
        "        for key in self.backend.keys():\n"
        "            yield len(key)\n"
        "\n"
        f"    {GENERATOR.BEGIN}\n"
        f"    {GENERATOR.END}\n"
    )
    generated = GENERATOR.generate(twins, source)
    tree = ast.parse(generated)
    twins_made = {
        node.name: ast.unparse(node)
        for node in ast.walk(tree)
        if isinstance(node, ast.AsyncFunctionDef)
    }
    assert set(twins_made) == {"aget", "aitems"}
    assert "async with self._alock:" in twins_made["aget"]
    assert "await self.abackend.read(key)" in twins_made["aget"]
    assert "len(self.name)" in twins_made["aget"]  # not named by a rule: left as it is
    assert "return await afetch(value)" in twins_made["aget"]
    assert "-> AsyncIterator[int]" in twins_made["aitems"]
    assert "async for page in self.abackend.pages():" in twins_made["aitems"]
    assert "yield (await self.aget(page))" in twins_made["aitems"]
    assert "for key in await self.abackend.keys():" in twins_made["aitems"]  # not an iterator
    assert '"""Async :meth:`get`."""' in twins_made["aget"]


def test_a_lambda_that_would_await_is_refused():
    twins = GENERATOR.Twins("example.py", scope=None, names=("run",), calls={"work": "awork"})
    source = (
        f"def run() -> None:\n    call(lambda: work())\n\n\n{GENERATOR.BEGIN}\n{GENERATOR.END}\n"
    )
    with pytest.raises(SystemExit, match="a lambda would await"):
        GENERATOR.generate(twins, source)
