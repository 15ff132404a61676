"""One error type for every ingest problem, so a bulk run can report bad input and carry on."""

from __future__ import annotations


class IngestError(Exception):
    """Input that cannot become an article, with where it is: file, line or record, and field.

    ``str()`` is the whole report a person needs, e.g.
    ``articles.jsonl:3: published_at: not an ISO 8601 date-time ("yesterday")``.
    """

    def __init__(
        self,
        source: str,
        message: str,
        *,
        line: int | None = None,
        record: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(source, message)
        self.source = source
        self.line = line
        self.record = record  # 1-based index of the object within a JSON array
        self.field = field
        self.message = message

    def __str__(self) -> str:
        parts = [location(self.source, line=self.line, record=self.record)]
        if self.field is not None:
            parts.append(self.field)
        parts.append(self.message)
        return ": ".join(parts)


def location(source: str, *, line: int | None = None, record: int | None = None) -> str:
    """Where in a file: ``wire.jsonl:12``, ``wire.json: record 3`` or just ``page.txt``."""
    where = source if line is None else f"{source}:{line}"
    return where if record is None else f"{where}: record {record}"
