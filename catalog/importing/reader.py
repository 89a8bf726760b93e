"""CSV records from a feed file, robust against the damage real feeds carry.

``csv.reader`` on a whole file lets one stray quote swallow every row after it (the rest
of the file becomes one quoted field). So this reader splits the bytes into physical lines
itself and only joins lines while a quoted field is open; a record is accepted when its
quotes close and it has the header's number of fields. When a quote never closes (end of
file, or more than ``MAX_RECORD_LINES`` lines / ``MAX_RECORD_BYTES`` bytes), or when
joining lines gives the wrong number of fields, the record's *first* line is reported as an
unterminated quoted field and reading resumes at the next physical line: a broken quote
costs its own row only. Valid multi-line records (a quoted field with line breaks) still
parse as one record.

Each physical line is decoded as UTF-8 on its own, so one undecodable byte costs its row,
not the file. Line numbers are physical and 1-based; the header is line 1; a record's line
is the line it starts on.
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .errors import FeedError

BLOCK_SIZE = 1 << 18
MAX_RECORD_LINES = 1_000
MAX_RECORD_BYTES = 1 << 20
BOMS_REFUSED = {
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}


@dataclass(frozen=True, slots=True)
class Record:
    """One CSV record: its fields, or the reason it could not be read. ``line`` is the
    physical 1-based line the record starts on."""

    line: int
    fields: list[str] | None = None
    problem: str | None = None


@dataclass(slots=True)
class _Line:
    number: int
    text: str
    decode_problem: str | None


def _physical_lines(stream: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """Physical lines without their terminator (``\\n`` or ``\\r\\n``), numbered from 1.

    Reads in blocks through ``stream.read`` so a progress wrapper on ``read`` sees every
    byte."""
    number = 0
    rest = b""
    while True:
        block = stream.read(BLOCK_SIZE)
        if not block:
            break
        pieces = (rest + block).split(b"\n")
        rest = pieces.pop()
        for piece in pieces:
            number += 1
            yield number, piece[:-1] if piece.endswith(b"\r") else piece
    if rest:
        yield number + 1, rest[:-1] if rest.endswith(b"\r") else rest


def _decoded(number: int, raw: bytes) -> _Line:
    try:
        text = raw.decode("utf-8")
        problem = None
    except UnicodeDecodeError as exc:
        # surrogateescape keeps every ASCII byte (quotes, commas) where it was, so the
        # record structure around the bad bytes is still found and only this row is lost.
        text = raw.decode("utf-8", "surrogateescape")
        problem = (
            f"undecodable bytes: line {number} is not valid UTF-8 "
            f"(byte 0x{raw[exc.start]:02x} at position {exc.start + 1})"
        )
    if number == 1 and text.startswith("\ufeff"):
        text = text[1:]
    return _Line(number, text, problem)


def _ends_inside_quotes(text: str, *, in_quotes: bool, record_start: bool) -> bool:
    """Whether ``text`` (one physical line) leaves a quoted field open.

    Follows ``csv``'s default dialect: a quote opens a field only at the start of a field
    (start of the record or right after a comma); inside a quoted field ``""`` is a literal
    quote and a single ``"`` closes it; elsewhere a quote is an ordinary character."""
    find = text.find
    size = len(text)
    pos = 0
    while True:
        quote = find('"', pos)
        if quote < 0:
            return in_quotes
        if in_quotes:
            if quote + 1 < size and text[quote + 1] == '"':
                pos = quote + 2
                continue
            in_quotes = False
        elif (quote == 0 and record_start) or (quote > 0 and text[quote - 1] == ","):
            in_quotes = True
        pos = quote + 1


def _split(text: str) -> list[str]:
    if '"' not in text:
        return text.split(",")
    return next(csv.reader([text], strict=False))


class CsvRecordReader:
    """Iterate the records of a binary CSV stream. Set ``expected_fields`` (the header's
    width) after reading the header: records spanning lines are then accepted only when
    they have that many fields, and single-line records of another width are reported."""

    def __init__(self, stream: BinaryIO) -> None:
        self._lines = (_decoded(number, raw) for number, raw in _physical_lines(stream))
        self._pending: deque[_Line] = deque()
        self.expected_fields: int | None = None

    def _next_line(self) -> _Line | None:
        if self._pending:
            return self._pending.popleft()
        return next(self._lines, None)

    def _resume_after_first(self, lines: list[_Line]) -> None:
        """Read the lines after a broken record's first line again, as fresh records."""
        self._pending.extendleft(reversed(lines[1:]))

    def __iter__(self) -> Iterator[Record]:
        while True:
            first = self._next_line()
            if first is None:
                return
            if not first.text.strip():
                continue  # a blank line is no record
            lines = [first]
            size = len(first.text)
            open_quote = _ends_inside_quotes(first.text, in_quotes=False, record_start=True)
            broken = None
            while open_quote:
                if len(lines) >= MAX_RECORD_LINES or size > MAX_RECORD_BYTES:
                    broken = (
                        "unterminated quoted field: no closing quote within "
                        f"{MAX_RECORD_LINES:,} lines or {MAX_RECORD_BYTES:,} bytes"
                    )
                    break
                following = self._next_line()
                if following is None:
                    broken = "unterminated quoted field: the quote opened here never closes"
                    break
                lines.append(following)
                size += len(following.text) + 1
                open_quote = _ends_inside_quotes(following.text, in_quotes=True, record_start=False)
            if broken:
                self._resume_after_first(lines)
                yield Record(first.number, problem=broken)
                continue

            decode_problem = next(
                (line.decode_problem for line in lines if line.decode_problem), None
            )
            if len(lines) == 1 and decode_problem:
                yield Record(first.number, problem=decode_problem)
                continue
            text = first.text if len(lines) == 1 else "\n".join(line.text for line in lines)
            try:
                fields = _split(text)
            except csv.Error as exc:
                fields = None
                problem = f"malformed CSV: {exc}"
            else:
                expected = self.expected_fields
                problem = None
                if expected is not None and len(fields) != expected:
                    problem = f"malformed CSV: expected {expected} fields, found {len(fields)}"
            if problem and len(lines) > 1:
                # Joining lines did not give a record: the quote on the first line is
                # stray, and the lines after it are records of their own.
                self._resume_after_first(lines)
                yield Record(
                    first.number,
                    problem=(
                        "unterminated quoted field: the quote opened here runs into the "
                        f"next {len(lines) - 1:,} line(s) and does not make a record ({problem})"
                    ),
                )
                continue
            if problem:
                yield Record(first.number, problem=problem)
                continue
            if decode_problem:
                yield Record(first.number, problem=decode_problem)
                continue
            yield Record(first.number, fields=fields)


def open_feed(path: Path) -> BinaryIO:
    """Open a feed file for reading, or raise FeedError saying why it cannot be read."""
    if path.is_dir():
        raise FeedError(f"{path}: is a directory, not a CSV file")
    try:
        return path.open("rb")
    except FileNotFoundError as exc:
        raise FeedError(f"{path}: no such file") from exc
    except OSError as exc:
        raise FeedError(f"{path}: cannot be read ({exc.strerror or exc})") from exc


def read_header(path: Path) -> list[str]:
    """The header of a feed file (column names, stripped), or FeedError for a file that
    cannot be read, is empty, is not UTF-8 or starts with a broken header line."""
    with open_feed(path) as stream:
        try:
            start = stream.read(4)
            stream.seek(0)
            for bom, encoding in BOMS_REFUSED.items():
                if start.startswith(bom):
                    raise FeedError(f"{path}: the file is {encoding}; save it as UTF-8")
            reader = CsvRecordReader(stream)
            header = next(iter(reader), None)
        except OSError as exc:
            raise FeedError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if header is None:
        raise FeedError(f"{path}: empty file (no header line)")
    if header.problem:
        raise FeedError(f"{path}: the header cannot be read ({header.problem})")
    if header.line != 1:
        raise FeedError(f"{path}: the header must be on line 1 (line 1 is blank)")
    return [name.strip() for name in header.fields or []]
