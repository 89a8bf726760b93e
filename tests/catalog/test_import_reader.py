"""The CSV record reader: physical line numbers, multi-line records, and damage (stray
quotes, undecodable bytes, wrong widths) that costs only the damaged row."""

import io

import pytest

from catalog.importing import reader as reader_module
from catalog.importing.errors import FeedError
from catalog.importing.reader import CsvRecordReader, read_header


def records(data: bytes, *, width: int | None = 3):
    """(line, fields or problem) for every record after the header."""
    reader = CsvRecordReader(io.BytesIO(data))
    found = iter(reader)
    header = next(found)
    assert header.line == 1
    reader.expected_fields = width
    return [(record.line, record.fields or record.problem) for record in found]


def test_line_numbers_are_physical_and_a_quoted_field_may_span_lines():
    data = b'a,b,c\n1,"two\nlines",x\n\n2,plain,y\n3,"say ""hi""",z\n'
    assert records(data) == [
        (2, ["1", "two\nlines", "x"]),
        (5, ["2", "plain", "y"]),  # the blank line 4 is no record but still counts
        (6, ["3", 'say "hi"', "z"]),
    ]


def test_crlf_line_ends_and_a_bom_are_understood():
    data = b'\xef\xbb\xbfa,b,c\r\n1,"x, y",z\r\n2,p,q'
    reader = CsvRecordReader(io.BytesIO(data))
    assert [record.fields for record in reader] == [
        ["a", "b", "c"],
        ["1", "x, y", "z"],
        ["2", "p", "q"],
    ]


def test_a_quote_inside_an_unquoted_field_is_an_ordinary_character():
    assert records(b'a,b,c\n1,41" board,x\n2,p,q\n') == [
        (2, ["1", '41" board', "x"]),
        (3, ["2", "p", "q"]),
    ]


def test_an_unterminated_quote_at_the_end_costs_only_its_own_line():
    data = b'a,b,c\n1,ok,x\n2,"broken,y\n3,fine,z\n4,also fine,w\n'
    assert records(data) == [
        (2, ["1", "ok", "x"]),
        (3, "unterminated quoted field: the quote opened here never closes"),
        (4, ["3", "fine", "z"]),
        (5, ["4", "also fine", "w"]),
    ]


def test_a_stray_quote_that_runs_into_the_next_rows_costs_only_its_own_line():
    # The quote opened on line 3 "closes" on line 4, giving a record of the wrong width.
    data = b'a,b,c\n1,ok,x\n2,"broken,y\n3,"quoted, title",z\n4,plain,w\n'
    result = records(data)
    assert result[0] == (2, ["1", "ok", "x"])
    line, problem = result[1]
    assert line == 3
    assert problem.startswith("unterminated quoted field: the quote opened here runs into")
    assert result[2:] == [(4, ["3", "quoted, title", "z"]), (5, ["4", "plain", "w"])]


def test_a_quote_open_beyond_the_cap_is_given_up(monkeypatch):
    monkeypatch.setattr(reader_module, "MAX_RECORD_LINES", 3)
    rows = b"".join(f"{n},row {n},x\n".encode() for n in range(3, 9))
    data = b'a,b,c\n2,"never closed,x\n' + rows
    result = records(data)
    assert result[0] == (
        2,
        "unterminated quoted field: no closing quote within 3 lines or 1,048,576 bytes",
    )
    assert result[1:] == [(n, [str(n), f"row {n}", "x"]) for n in range(3, 9)]


def test_undecodable_bytes_cost_only_their_row():
    data = b"a,b,c\n1,caf\xe9,x\n2,ok,y\n"
    assert records(data) == [
        (2, "undecodable bytes: line 2 is not valid UTF-8 (byte 0xe9 at position 6)"),
        (3, ["2", "ok", "y"]),
    ]


def test_a_row_of_the_wrong_width_is_reported():
    assert records(b"a,b,c\n1,2\n1,2,3,4\n5,6,7\n") == [
        (2, "malformed CSV: expected 3 fields, found 2"),
        (3, "malformed CSV: expected 3 fields, found 4"),
        (4, ["5", "6", "7"]),
    ]


def test_the_progress_wrapper_sees_every_byte():
    data = b"a,b,c\n" + b"".join(f"{n},x,y\n".encode() for n in range(50_000))
    seen = []

    class Counting(io.BytesIO):
        def read(self, size=-1):
            chunk = super().read(size)
            seen.append(len(chunk))
            return chunk

    assert sum(1 for _ in CsvRecordReader(Counting(data))) == 50_001
    assert sum(seen) == len(data)


def test_header_of_an_empty_file_is_a_feed_error(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(FeedError, match=r"empty file \(no header line\)"):
        read_header(empty)
    blank = tmp_path / "blank.csv"
    blank.write_bytes(b"\n  \n")
    with pytest.raises(FeedError, match="empty file"):
        read_header(blank)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("missing", "no such file"),
        ("folder", "is a directory"),
        (b"\xff\xfea\x00,\x00b\x00", "the file is UTF-16; save it as UTF-8"),
        (b'"id,category_name\n', "the header cannot be read (unterminated quoted field"),
        (b"\nid,category_name\n", "the header must be on line 1"),
    ],
)
def test_unreadable_headers_are_feed_errors(tmp_path, content, message):
    path = tmp_path / "feed.csv"
    if content == "folder":
        path.mkdir()
    elif content != "missing":
        path.write_bytes(content)
    with pytest.raises(FeedError) as refused:
        read_header(path)
    assert message in refused.value.message
    assert refused.value.code == "feed_invalid"


def test_header_names_are_stripped(tmp_path):
    path = tmp_path / "categories.csv"
    path.write_bytes(b"\xef\xbb\xbf id , category_name\n1,Puzzles\n")
    assert read_header(path) == ["id", "category_name"]
