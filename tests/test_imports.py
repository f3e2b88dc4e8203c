"""What importing t5-vectors loads, checked in a fresh interpreter through ``sys.modules``.

A static scan of ``encoder/*.py`` cannot see a heavy import that arrives through a package
``__init__``; a fresh subprocess sees every module actually loaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "qdrant_client", "qdrant_edge", "langchain_core", "ray")


def _loaded(code: str, *, cwd: Path = ROOT) -> dict[str, bool]:
    """Run *code* in a fresh interpreter; which of HEAVY it left in ``sys.modules``."""
    probe = (
        "import json, sys\n"
        + code
        + f"\nprint(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, bool] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_import_t5_vectors_loads_nothing_heavy():
    loaded = _loaded("import t5_vectors\nassert t5_vectors.__version__")
    assert not any(loaded.values()), loaded


def test_public_names_load_on_first_use():
    loaded = _loaded(
        "import t5_vectors\n"
        "assert t5_vectors.InvalidInputError.__name__ == 'InvalidInputError'\n"
        "assert set(t5_vectors.__all__) <= set(dir(t5_vectors))\n"
    )
    assert not any(loaded.values()), loaded  # the errors are light
    loaded = _loaded("import t5_vectors\nt5_vectors.T5Encoder")
    assert loaded["torch"]
    assert not loaded["qdrant_client"]
    assert not loaded["langchain_core"]


def test_unknown_attribute_is_an_attribute_error():
    loaded = _loaded(
        "import t5_vectors\n"
        "try:\n    t5_vectors.NoSuchThing\nexcept AttributeError as e:\n"
        "    assert 'NoSuchThing' in str(e)\nelse:\n    raise SystemExit(1)\n"
    )
    assert not any(loaded.values())


def test_encoder_core_imports_no_langchain_qdrant_or_ray():
    loaded = _loaded("import t5_vectors.encoder\nfrom t5_vectors import T5Encoder")
    assert loaded["torch"]
    for name in ("qdrant_client", "qdrant_edge", "langchain_core", "ray"):
        assert not loaded[name], name


def test_files_discovery_and_reading_load_nothing_heavy():
    loaded = _loaded(
        "from t5_vectors.files import discover, read_file\n"
        "import t5_vectors.files\n"
        "assert t5_vectors.files.discover is discover\n"
        "assert sys.modules['t5_vectors.files.discover'].discover is discover\n"
    )
    assert not any(loaded.values()), loaded


def test_cli_help_and_version_load_nothing_heavy():
    loaded = _loaded(
        "from t5_vectors.cli import main\n"
        "for argv in (['--help'], ['--version'], ['ingest', '--help'], ['search', '--help']):\n"
        "    try:\n        main(argv)\n    except SystemExit as exit:\n"
        "        assert exit.code == 0\n"
    )
    assert not any(loaded.values()), loaded


def test_info_and_delete_never_import_torch(tmp_path):
    code = (
        "from t5_vectors.cli import main\n"
        f"assert main(['info', '--qdrant-path', {str(tmp_path / 'db')!r}]) == 0\n"
        f"main(['delete', '--collection', 'x', '--yes', '--qdrant-path', "
        f"{str(tmp_path / 'db')!r}])\n"
    )
    (tmp_path / "db").mkdir()
    loaded = _loaded(code, cwd=tmp_path)
    assert not loaded["torch"]
    assert not loaded["transformers"]


def test_info_and_delete_on_a_sparse_and_token_collection_never_import_torch(tmp_path, st5_path):
    from t5_vectors.cli import main

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ferns.txt").write_text("Ferns like shade and damp soil. " * 20)
    db = str(tmp_path / "db")
    status = main(
        ["ingest", str(docs), "--collection", "rich", "--sparse", "--token-vectors", "--quiet",
         "--model", str(st5_path), "--device", "cpu", "--dtype", "float32", "--qdrant-path", db]
    )  # fmt: skip
    assert status == 0
    code = (
        "from t5_vectors.cli import main\n"
        f"assert main(['info', '--collection', 'rich', '--qdrant-path', {db!r}]) == 0\n"
        f"assert main(['delete', '--collection', 'rich', '--source', {str(docs / 'ferns.txt')!r}, "
        f"'--yes', '--qdrant-path', {db!r}]) == 0\n"
    )
    loaded = _loaded(code, cwd=tmp_path)
    assert not loaded["torch"]
    assert not loaded["transformers"]
