"""`fwtrack.Table`: rows of plain values and media, stored as one content-addressed JSON file."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import fwtrack
from conftest import fetcher
from fwtrack import _core
from fwtrack.data_types import from_descriptor


def round_trip(table: fwtrack.Table, files_dir: Path) -> tuple[dict[str, Any], fwtrack.Table]:
    desc = json.loads(json.dumps(table._store(files_dir)))
    back = from_descriptor(desc, fetcher(files_dir))
    assert isinstance(back, fwtrack.Table)
    return desc, back


RNG = np.random.default_rng(7)


def test_columns_default_and_rows(files: Path) -> None:
    table = fwtrack.Table(data=[[1, "a", True], (2, "b", None)])
    assert table.columns == ["col0", "col1", "col2"]
    assert len(table) == 2
    table.add_data(3, "c", False)
    table.add_column("score", [0.5, float("nan"), math.inf])
    assert table.columns == ["col0", "col1", "col2", "score"]
    assert table.get_column("col1") == ["a", "b", "c"]

    desc, back = round_trip(table, files)
    payload = (files / desc["path"]).read_bytes()
    address = _core.hash_bytes(payload)
    assert desc == {
        "_type": "table",
        "path": f"media/{address.removeprefix('blake3:')}.table.json",
        "address": address,
        "size": len(payload),
        "columns": ["col0", "col1", "col2", "score"],
        "nrows": 3,
    }
    # NaN and infinities are JSON tokens, as Python's json and the server read them.
    assert b"NaN" in payload
    assert b"Infinity" in payload
    assert back.columns == table.columns
    assert len(back) == 3
    got = back.data
    assert got[0] == [1, "a", True, 0.5]
    assert got[1][:3] == [2, "b", None]
    assert math.isnan(got[1][3])
    assert got[2] == [3, "c", False, math.inf]
    assert back == table


def test_empty_table_then_add_data() -> None:
    table = fwtrack.Table()
    assert (table.columns, len(table)) == ([], 0)
    table.add_data("x", 1)
    assert table.columns == ["col0", "col1"]
    empty = fwtrack.Table(columns=["a"])
    assert len(empty.to_pandas()) == 0
    fresh = fwtrack.Table()
    fresh.add_column("n", [1, 2, 3])
    assert fresh.data == [[1], [2], [3]]


def test_numpy_scalars_dates_and_missing_values_become_plain_cells(files: Path) -> None:
    table = fwtrack.Table(
        columns=["f", "i", "b", "s", "when", "na"],
        data=[
            [
                np.float32(0.25),
                np.int64(7),
                np.bool_(True),
                np.str_("x"),
                dt.date(2026, 1, 2),
                pd.NA,
            ],
            [
                np.float64(1.5),
                np.uint8(3),
                np.bool_(False),
                "y",
                np.datetime64("2026-01-02T03:04"),
                pd.NaT,
            ],
        ],
    )
    _, back = round_trip(table, files)
    rows = back.data
    assert rows[0] == [0.25, 7, True, "x", "2026-01-02", None]
    assert rows[1] == [1.5, 3, False, "y", "2026-01-02T03:04", None]
    assert [type(c) for c in rows[0][:4]] == [float, int, bool, str]


def test_numpy_2d_data(files: Path) -> None:
    arr = RNG.random((50, 3))
    table = fwtrack.Table(columns=["x", "y", "z"], data=arr)
    _, back = round_trip(table, files)
    np.testing.assert_array_equal(np.array(back.data), arr)
    pd.testing.assert_frame_equal(back.to_pandas(), pd.DataFrame(arr, columns=["x", "y", "z"]))


def test_media_cells_are_stored_first_and_read_back(files: Path) -> None:
    images = [fwtrack.Image(RNG.integers(0, 256, (8, 8, 3), dtype=np.uint8)) for _ in range(3)]
    audio = fwtrack.Audio(np.zeros(100, np.int16), sample_rate=100)
    frames = np.zeros((2, 3, 4, 4), np.uint8)
    frames[1] = 255
    df = pd.DataFrame(
        {
            "id": [0, 1, 2],
            "image": images,
            "label": ["cat", "dog", "cat"],
            "score": [0.9, 0.1, float("nan")],
            "extra": [audio, fwtrack.Html("<b>x</b>"), fwtrack.Video(frames)],
            "again": [images[0], None, images[0]],
        }
    )
    table = fwtrack.Table(dataframe=df)
    desc, back = round_trip(table, files)

    stored = {p.name for p in (files / "media").iterdir()}
    assert len(stored) == 1 + 3 + 3  # the table, three distinct images, audio/html/video
    payload = json.loads((files / desc["path"]).read_bytes())
    assert payload["columns"] == list(df.columns)
    cell = payload["data"][0][1]
    assert cell["_type"] == "image"
    assert cell["path"].rsplit("/", 1)[1] in stored
    assert payload["data"][1][5] is None

    got = back.to_pandas()
    pd.testing.assert_frame_equal(got, df)
    assert isinstance(got["image"][1], fwtrack.Image)
    np.testing.assert_array_equal(got["image"][1].to_numpy(), images[1].to_numpy())
    assert got["extra"][0].to_numpy()[1] == 100
    assert got["extra"][2].to_numpy().shape == (2, 4, 4, 3)


def test_dataframe_round_trip(files: Path) -> None:
    n = 1000
    df = pd.DataFrame(
        {
            "a": np.arange(n),
            "b": RNG.random(n),
            "c": [f"row {i}" for i in range(n)],
            "d": np.arange(n) % 3 == 0,
            "e": np.where(np.arange(n) % 5 == 0, np.nan, 1.0),
        }
    )
    _, back = round_trip(fwtrack.Table(dataframe=df), files)
    pd.testing.assert_frame_equal(back.to_pandas(), df)


def test_many_rows_round_trip(files: Path) -> None:
    # Rows of plain cells take the fast path (docs/media.md has the timings at 100,000 rows).
    n = 20_000
    rows = [[i, i / 3, f"s{i}", i % 2 == 0, None] for i in range(n)]
    table = fwtrack.Table(columns=["i", "x", "s", "even", "none"], data=rows)
    desc, back = round_trip(table, files)
    assert desc["nrows"] == n
    assert back.data == rows


def test_identical_tables_are_stored_once(files: Path) -> None:
    one = fwtrack.Table(columns=["a"], data=[[1], [2]])
    two = fwtrack.Table(columns=["a"])
    two.add_data(1)
    two.add_data(2)
    assert one == two
    assert one._store(files)["path"] == two._store(files)["path"]
    assert len(list((files / "media").iterdir())) == 1


def test_changing_a_table_changes_its_payload(files: Path) -> None:
    table = fwtrack.Table(columns=["a"], data=[[1]])
    first = table._store(files)
    table.add_data(2)
    second = table._store(files)
    assert first["address"] != second["address"]
    assert second["nrows"] == 2
    # A table read back can be extended and logged again.
    back = from_descriptor(second, fetcher(files))
    back.add_data(3)
    assert back._store(files)["nrows"] == 3
    assert back.data == [[1], [2], [3]]


def test_rows_are_read_lazily(files: Path) -> None:
    desc = fwtrack.Table(columns=["a", "b"], data=[[1, 2]])._store(files)
    calls: list[str] = []
    back = from_descriptor(desc, fetcher(files, calls))
    assert (back.columns, len(back)) == (["a", "b"], 1)
    assert calls == []
    assert back.data == [[1, 2]]
    assert calls == [desc["path"]]


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (
            lambda: fwtrack.Table(columns=["id", "image", "label"], data=[[1, None]]),
            ValueError,
            r"row 0 has 2 cells but the table has 3 columns \['id', 'image', 'label'\]",
        ),
        (
            lambda: fwtrack.Table(columns=["a"], data=[[[1, 2]]]),
            TypeError,
            r"row 0, column 'a' is a list: cells are None, bool.*json\.dumps",
        ),
        (
            lambda: fwtrack.Table(columns=["a"], data=[[fwtrack.Table()]]),
            TypeError,
            r"column 'a' is a Table",
        ),
        (lambda: fwtrack.Table(columns=["a", "a"]), ValueError, r"'a' appears twice"),
        (lambda: fwtrack.Table(columns="abc"), TypeError, r"list of str"),
        (
            lambda: fwtrack.Table(columns=[1]),  # type: ignore[list-item]
            TypeError,
            r"must be str, got 1",
        ),
        (lambda: fwtrack.Table(data=[1, 2]), TypeError, r"row 0 is a int: each row is a list"),
        (lambda: fwtrack.Table(data=np.zeros(3)), ValueError, r"must be 2-D"),
        (lambda: fwtrack.Table(data="rows"), TypeError, r"list of rows"),
        (
            lambda: fwtrack.Table(dataframe=[[1]]),  # type: ignore[arg-type]
            TypeError,
            r"pandas DataFrame",
        ),
        (
            lambda: fwtrack.Table(data=[[1]], dataframe=pd.DataFrame({"a": [1]})),
            ValueError,
            r"not both",
        ),
    ],
)
def test_bad_tables(make: Callable[[], Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        make()


def test_bad_additions() -> None:
    table = fwtrack.Table(columns=["id", "label"], data=[[1, "a"]])
    with pytest.raises(ValueError, match=r"row 1 has 3 cells .* columns \['id', 'label'\]"):
        table.add_data(2, "b", "extra")
    with pytest.raises(ValueError, match=r"got 2 values but the table has 1 rows"):
        table.add_column("score", [1, 2])
    with pytest.raises(ValueError, match="'id' appears twice"):
        table.add_column("id", [1])
    with pytest.raises(TypeError, match=r"row 0, column 'obj' is a object"):
        table.add_column("obj", [object()])
    with pytest.raises(KeyError, match=r"no column 'x'; the columns are \['id', 'label'\]"):
        table.get_column("x")
    assert table.data == [[1, "a"]]  # failed additions change nothing


def test_repr_and_hash() -> None:
    table = fwtrack.Table(columns=["a"], data=[[1]])
    assert repr(table) == "Table(1 rows, columns=['a'])"
    with pytest.raises(TypeError, match="unhashable"):
        hash(table)
