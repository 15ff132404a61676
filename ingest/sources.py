"""Turn the paths given to an ingest run into drafts, one article (or one error) at a time.

Files are read by extension: ``.txt`` is a captured page, ``.json``/``.jsonl``/``.ndjson`` hold records.
Folders are walked recursively in sorted order, so runs are repeatable; files of other kinds and hidden
files or folders inside them are skipped, but a file named directly must be one of the known kinds.
Problems are yielded as ``IngestError`` values rather than raised, so one bad file or record never stops
a bulk run. ``iter_inputs`` leaves JSON Lines records unread (``Lines``), for worker processes to read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ingest.captured import parse_captured, read_text
from ingest.document import ArticleDraft
from ingest.errors import IngestError
from ingest.records import (
    JSON_LINES_SUFFIXES,
    JSON_SUFFIXES,
    LinePiece,
    iter_json_records,
    json_line_pieces,
    read_json_lines,
)

CAPTURED_SUFFIXES = frozenset({".txt"})
SUFFIXES = CAPTURED_SUFFIXES | JSON_SUFFIXES | JSON_LINES_SUFFIXES


@dataclass(frozen=True, slots=True)
class Lines:
    """Where some JSON Lines records lie in their file, not read yet: a few numbers to send to a worker
    process, which reads and parses them."""

    source: str
    piece: LinePiece

    def parse(self) -> list[ArticleDraft | IngestError]:
        return read_json_lines(Path(self.source), self.piece)


def iter_inputs(paths: Sequence[Path]) -> Iterator[ArticleDraft | IngestError | Lines]:
    """Every article in the given files and folders, in order, JSON Lines records unread (``Lines``, to read
    elsewhere); bad input comes out as ``IngestError``."""
    for path in _input_files(paths):
        source = str(path)
        suffix = path.suffix.lower()
        if not path.exists():
            yield IngestError(source, "no such file or folder")
        elif suffix in CAPTURED_SUFFIXES:
            yield _captured(path)
        elif suffix in JSON_LINES_SUFFIXES:
            for item in json_line_pieces(path):
                yield item if isinstance(item, IngestError) else Lines(source, item)
        elif suffix in SUFFIXES:
            yield from iter_json_records(path)
        else:
            yield IngestError(source, f"unknown kind of file: expected one of {', '.join(sorted(SUFFIXES))}")


def _input_files(paths: Sequence[Path]) -> Iterator[Path]:
    """Named paths as they are (checked later), and the known files inside named folders."""
    for path in paths:
        if path.is_dir():
            yield from (
                file
                for file in sorted(path.rglob("*"))
                if file.is_file()
                and file.suffix.lower() in SUFFIXES
                and not any(part.startswith(".") for part in file.relative_to(path).parts)
            )
        else:
            yield path


def _captured(path: Path) -> ArticleDraft | IngestError:
    """Read and parse one captured page; unreadable or non-UTF-8 files are errors, not crashes."""
    try:
        return parse_captured(read_text(path), source=str(path))
    except IngestError as error:
        return error
