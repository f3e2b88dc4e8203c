"""Find the files to ingest: walk folders, apply ``glob`` / ``exclude`` patterns, check access.

Everything a user can get wrong about the paths is found here, before a model is loaded or
anything is written: a path that does not exist, a file or folder that cannot be read
(:class:`~t5_vectors.errors.SourceFileError`).

Walking a folder skips hidden entries (names starting with ``.``, such as ``.git``) and the
usual caches (``__pycache__``, ``node_modules``); a file named explicitly is always taken.
Patterns match the path relative to the folder given, from the right, as
``pathlib.PurePath.match`` does: ``*.md`` matches ``a.md`` and ``notes/b.md``; ``notes/*.md``
only the latter.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from t5_vectors.errors import InvalidInputError, SourceFileError

SKIPPED_FOLDERS = frozenset({"__pycache__", "node_modules"})
"""Folder names never walked into (besides hidden ones)."""


@dataclass(frozen=True)
class Discovery:
    """The files found under some paths.

    Attributes:
        files: absolute paths of the files to read, sorted, without repeats.
        folders: absolute paths of the folders given (walked).
        explicit: absolute paths of the files given by name.
    """

    files: tuple[Path, ...]
    folders: tuple[Path, ...]
    explicit: tuple[Path, ...]

    def covers(self, source: str) -> bool:
        """Whether *source* (an absolute path) lies in a folder given, or is a file given."""
        path = Path(source)
        if path in self.explicit:
            return True
        return any(path.is_relative_to(folder) for folder in self.folders)


def discover(
    paths: Sequence[str | os.PathLike[str]],
    *,
    glob: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> Discovery:
    """The files under *paths* (files and folders), checked for existence and access.

    Args:
        paths: files and folders.
        glob: keep only files (found in folders) matching one of these patterns.
        exclude: drop files (found in folders) matching one of these patterns.

    Raises:
        SourceFileError: a path is missing, or a file or folder cannot be read.
        InvalidInputError: no paths, or an empty pattern.
    """
    if isinstance(paths, (str, os.PathLike)) or not paths:
        raise InvalidInputError(
            "paths: expected a list of files or folders, found "
            + (repr(os.fspath(paths)) if isinstance(paths, (str, os.PathLike)) else "none")
            + ". Pass [path, ...]."
        )
    for pattern in (*glob, *exclude):
        if not isinstance(pattern, str) or not pattern.strip():
            raise InvalidInputError(
                f"pattern: expected a non-empty glob such as '*.md', found {pattern!r}."
            )
    files: dict[Path, None] = {}
    folders: list[Path] = []
    explicit: list[Path] = []
    for given in paths:
        path = Path(os.path.abspath(Path(os.fspath(given)).expanduser()))
        if not path.exists():
            raise SourceFileError(
                f"Expected a file or folder to ingest, found nothing at {os.fspath(given)!r}. "
                "Check the path (relative paths start from the current folder).",
                path=os.fspath(given),
            )
        if path.is_dir():
            folders.append(path)
            for found in _walk(path):
                relative = PurePosixPath(found.relative_to(path).as_posix())
                if glob and not _matches(relative, glob):
                    continue
                if _matches(relative, exclude):
                    continue
                files[found] = None
        else:
            explicit.append(path)
            files[path] = None
    ordered = sorted(files)
    for path in ordered:
        _check_readable(path)
    return Discovery(tuple(ordered), tuple(folders), tuple(explicit))


def _walk(folder: Path) -> Iterable[Path]:
    def fail(error: OSError) -> None:
        where = error.filename or folder
        raise SourceFileError(
            f"Expected a readable folder, found {where!s}: {error.strerror or error}. Fix its "
            "permissions, or leave it out (--exclude PATTERN).",
            path=str(where),
        ) from error

    for root, dirs, names in os.walk(folder, onerror=fail, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_FOLDERS)
        for name in names:
            if not name.startswith("."):
                path = Path(root) / name
                if path.is_file():  # leaves out sockets, fifos, broken links
                    yield path


def _matches(relative: PurePosixPath, patterns: Sequence[str]) -> bool:
    return any(relative.match(pattern) for pattern in patterns)


def _check_readable(path: Path) -> None:
    try:
        with path.open("rb"):
            pass
    except OSError as error:
        raise SourceFileError(
            f"Expected a readable file, found {path}: {error.strerror or error}. Fix its "
            "permissions, or leave it out (--exclude PATTERN, or a narrower --glob).",
            path=str(path),
        ) from error
