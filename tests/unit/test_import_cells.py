"""Dates, times and lists as people write them in a spreadsheet, and what they are told when a cell
cannot be read."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.importers import cells
from scheduler.importers.columns import CHANNELS, DATE, TEXT, TIME, HeaderError, column_of, read_header


@pytest.mark.parametrize(
    "written",
    [
        "15-11-2027",
        "15/11/2027",
        "15.11.2027",
        "2027-11-15",
        "2027/11/15",
        "15 november 2027",
        "maandag 15 november 2027",
        "15 nov 2027",
        "Monday, 15 November 2027",
        " 15-11-2027 ",
    ],
)
def test_a_date_written_day_first_or_as_iso_is_that_day(written: str) -> None:
    assert cells.read_date(written) == (date(2027, 11, 15), None)


def test_a_date_with_a_time_gives_both() -> None:
    assert cells.read_date("15-11-2027 09:30") == (date(2027, 11, 15), time(9, 30))
    assert cells.read_date("2027-11-15T21:00") == (date(2027, 11, 15), time(21, 0))


def test_excel_date_cells_and_serial_numbers_are_days() -> None:
    assert cells.read_date(datetime(2027, 11, 15)) == (date(2027, 11, 15), None)
    assert cells.read_date(datetime(2027, 11, 15, 9, 0)) == (date(2027, 11, 15), time(9, 0))
    assert cells.read_date(date(2027, 11, 15)) == (date(2027, 11, 15), None)
    serial = (date(2027, 11, 15) - date(1899, 12, 30)).days
    assert cells.read_date(serial) == (date(2027, 11, 15), None)


@pytest.mark.parametrize(
    ("written", "says"),
    [
        ("11/15/2027", "day first"),  # month first is never guessed
        ("31-02-2027", "February has 28 days in 2027, not 31"),
        ("15-11-27", "year in full"),
        ("morgen", "not a date"),
        ("15 brumaire 2027", "not a month"),
        (12, "number, not a date"),
        ("", "empty"),
    ],
)
def test_a_date_that_cannot_be_read_says_what_to_write(written: object, says: str) -> None:
    with pytest.raises(cells.CellError, match=says):
        cells.read_date(written)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("09:00", time(9)),
        ("9:00", time(9)),
        ("9.00", time(9)),
        ("21:30", time(21, 30)),
        ("9u", time(9)),
        ("9 uur", time(9)),
        ("9:15 pm", time(21, 15)),
        ("12:00 am", time(0)),
        ("09:00:30", time(9, 0, 30)),
        (time(9, 0), time(9)),
        (datetime(1899, 12, 30, 9, 0), time(9)),
        (0.375, time(9)),  # Excel: a fraction of a day
        (time(8, 59, 59, 999_999), time(9)),  # and its rounding
        (datetime(1899, 12, 30, 8, 59, 59, 999_000), time(9)),
        (datetime.max, time(23, 59, 59)),
    ],
)
def test_a_time_as_people_write_it_is_that_time(written: object, expected: time) -> None:
    assert cells.read_time(written) == expected


def test_a_time_with_an_offset_keeps_it_for_the_autumn_fold() -> None:
    moment = cells.read_time("02:30+02:00")
    assert moment.utcoffset() == timedelta(hours=2)
    assert cells.publish_at(date(2027, 10, 31), moment) == "2027-10-31T02:30+02:00"
    assert cells.publish_at(date(2027, 11, 15), time(9, 0)) == "2027-11-15 09:00"
    assert cells.read_time("09:00Z").tzinfo == UTC


@pytest.mark.parametrize("written", ["25:00", "9:75", "13:00 pm", "straks", 2.5])
def test_a_time_that_cannot_be_read_is_refused(written: object) -> None:
    with pytest.raises(cells.CellError):
        cells.read_time(written)


def test_lists_and_flags() -> None:
    assert cells.words("mastodon, bluesky;x\nfacebook") == ["mastodon", "bluesky", "x", "facebook"]
    assert cells.words(None) == []
    assert [cells.flag(v) for v in ("ja", "Yes", "x", "concept", "", None, "nee", "no", True)] == [
        True,
        True,
        True,
        True,
        False,
        False,
        False,
        False,
        True,
    ]
    with pytest.raises(cells.CellError, match="ja or nee"):
        cells.flag("misschien")


def test_headers_in_dutch_and_english_name_the_same_columns() -> None:
    assert [
        column_of(h) for h in ("Datum", "TIJD", "Kanaal", "kanalen", "Channel(s)", "Tekst", "Alt-tekst", "Opmerking")
    ] == [
        DATE,
        TIME,
        CHANNELS,
        CHANNELS,
        CHANNELS,
        TEXT,
        "alt",
        None,
    ]
    header = read_header(["Datum", "Tijd", "Kanalen", "Tekst", "Opmerking"])
    assert header.index[TEXT] == 3 and header.letter(TEXT) == "D" and header.ignored == ("Opmerking",)


def test_a_header_without_a_needed_column_or_with_one_twice_is_refused() -> None:
    with pytest.raises(HeaderError, match="channels \\(kanalen\\)"):
        read_header(["datum", "tijd", "tekst"])
    with pytest.raises(HeaderError, match="both mean"):
        read_header(["datum", "date", "kanalen", "tekst"])


CELLS = st.one_of(
    st.text(max_size=30),
    st.text(alphabet="0123456789-/.: apmuhTZ+", max_size=20),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.datetimes(),
    st.dates(),
    st.times(),
    st.none(),
    st.booleans(),
)


@settings(max_examples=300, deadline=None, database=None)
@given(value=CELLS)
def test_any_cell_is_a_value_or_a_cell_error_never_a_crash(value: object) -> None:
    for read in (cells.read_date, cells.read_time, cells.flag):
        try:
            read(value)
        except cells.CellError as exc:
            assert str(exc)
