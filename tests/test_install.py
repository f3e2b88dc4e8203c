"""``make install`` chooses where PyTorch comes from, and keeps a torch that is already there.

Make runs the Makefile's real install recipe against a stand-in virtual environment: its
``python`` sees only the modules a test gives it (a torch or none) and its ``pip`` records its
arguments instead of installing, so nothing is downloaded. A stand-in ``nvidia-smi`` on PATH is
a machine with an NVIDIA GPU; PATH holds nothing else but ``mkdir`` and ``touch``.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAKE = shutil.which("make")
CPU_INDEX = "https://download.pytorch.org/whl/cpu"

pytestmark = pytest.mark.skipif(MAKE is None, reason="needs make")


def _executable(path: Path, script: str) -> None:
    path.write_text(script)
    path.chmod(0o755)


def _install(
    tmp_path: Path, *, gpu: bool, torch: bool, overrides: tuple[str, ...] = ()
) -> list[str]:
    """The pip commands ``make install`` runs on such a machine, in order."""
    venv, site, tools = tmp_path / "venv", tmp_path / "site", tmp_path / "tools"
    for folder in (venv / "bin", site, tools):
        folder.mkdir(parents=True)
    if torch:  # a CUDA build installed by the user before `make install`
        (site / "torch.py").write_text('__version__ = "2.13.0+cu128"\n')
    log = tmp_path / "pip.log"
    python = f"PYTHONPATH={shlex.quote(str(site))} exec {shlex.quote(sys.executable)} -S"
    # -S: no site-packages, so only *site* can provide torch.
    _executable(venv / "bin" / "python", f'#!/bin/sh\n{python} "$@"\n')
    _executable(venv / "bin" / "pip", f'#!/bin/sh\necho "$*" >> {shlex.quote(str(log))}\n')
    for tool in ("mkdir", "touch"):
        found = shutil.which(tool)
        assert found is not None
        os.symlink(found, tools / tool)
    if gpu:
        _executable(tools / "nvidia-smi", "#!/bin/sh\necho 'GPU 0: NVIDIA H100'\n")
    done = subprocess.run(
        [str(MAKE), "-C", str(ROOT), "install", f"VENV={venv}", *overrides],
        env={"PATH": str(tools)},  # nor TORCH_INDEX, TORCH_SPEC or MAKEFLAGS from outside
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (venv / ".stamps" / "install").is_file()
    return log.read_text().splitlines()


def test_without_a_gpu_the_cpu_build_comes_from_pytorchs_cpu_index(tmp_path):
    commands = _install(tmp_path, gpu=False, torch=False)
    assert commands == [
        f"install --no-deps torch==2.13.0 --index-url {CPU_INDEX}",
        "install -e .",
        "freeze --exclude-editable",
    ]


def test_with_a_gpu_torch_comes_from_pips_default_index(tmp_path):
    commands = _install(tmp_path, gpu=True, torch=False)
    assert commands[0] == "install --no-deps torch==2.13.0"


def test_a_torch_already_installed_is_left_alone(tmp_path):
    for gpu in (False, True):
        commands = _install(tmp_path / str(gpu), gpu=gpu, torch=True)
        assert commands == ["install -e .", "freeze --exclude-editable"]


CU128 = "https://download.pytorch.org/whl/cu128"


@pytest.mark.parametrize(
    ("gpu", "overrides", "spec", "index"),
    [
        (True, (f"TORCH_INDEX={CU128}",), "torch==2.13.0", CU128),
        (True, (f"TORCH_INDEX={CPU_INDEX}",), "torch==2.13.0", CPU_INDEX),
        (False, ("TORCH_INDEX=",), "torch==2.13.0", None),  # pip's default index
        (False, ("TORCH_SPEC=torch==2.12.1",), "torch==2.12.1", CPU_INDEX),
    ],
)
def test_the_index_and_the_version_can_be_chosen(tmp_path, gpu, overrides, spec, index):
    expected = f"install --no-deps {spec}" + (f" --index-url {index}" if index else "")
    assert _install(tmp_path, gpu=gpu, torch=False, overrides=overrides)[0] == expected


def test_the_readme_says_what_the_makefile_does():
    makefile = (ROOT / "Makefile").read_text()
    spec = re.search(r"^TORCH_SPEC \?= (\S+)$", makefile, flags=re.MULTILINE)
    assert spec is not None
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## Quickstart")
    install = readme[start : readme.index("\n## ", start)]
    for needed in (f"`{spec.group(1)}`", CPU_INDEX, "nvidia-smi", "TORCH_INDEX", "TORCH_SPEC"):
        assert needed in install, needed
