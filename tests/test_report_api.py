"""The Python report API against real processes: `fwtrack.Report(...).save()` through a
`fwtrack server` (URL, `Api().reports`, loading back the same blocks, two editors merged,
images uploaded), and offline into the `fwtrack ui` database, which a `fwtrack ui` process
then serves."""

from __future__ import annotations

import json
import urllib.request
import zlib
from pathlib import Path

import pytest

import fwtrack
from fwserver import Server
from fwtrack import report as fr
from fwtrack.errors import ReportArgumentError, ReportNotFoundError
from server.harness import Ui

PROJECT = "reports-py"


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = (1).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\x80"))
        + chunk(b"IEND", b"")
    )


def _blocks() -> list[fr.Block]:
    return [
        fr.H1("Learning rate sweep"),
        fr.P("Runs with $lr > 0.01$ converge faster."),
        fr.LinePlot(
            runs="config.lr > 0.01 and tags ~ baseline",
            y=["train/loss", "eval/loss"],
            x="_runtime",
            smoothing=0.6,
            group=fr.Grouping("config.seed", agg="median", band="std"),
            title="Loss",
        ),
        fr.RunsTable(
            runs=["a1", "b2"], columns=["name", "config.lr", "summary.loss"], sort="-summary.loss"
        ),
        fr.ParallelCoordinates(
            runs=fr.Runset(filters="state = finished", limit=20),
            columns=["config.lr", "summary.loss"],
        ),
        fr.MediaBrowser(key="samples", step=3),
        fr.Histogram(key="weights/w0"),
        fr.ScalarChart(key="summary.acc", agg="max"),
        fr.BarPlot(key="summary.acc", group="job_type"),
        fr.Lineage(artifact="model:latest"),
        fr.RunComparer(runs=fr.Runset(ids=["a1", "b2"]), diff_only=False),
        fr.Image("https://example.com/figure.png", caption="from the paper"),
    ]


@pytest.fixture
def online(client_dirs: Path, server: Server, monkeypatch: pytest.MonkeyPatch) -> Server:
    monkeypatch.setenv("FWTRACK_BASE_URL", server.url)
    monkeypatch.setenv("FWTRACK_API_KEY", server.key)
    return server


def test_save_list_and_load_round_trip_through_the_server(online: Server) -> None:
    report = fwtrack.Report(PROJECT, "Sweep", description="what we found", blocks=_blocks())
    url = report.save()
    assert url == report.url
    assert report.id is not None
    assert url == f"{online.url}/#/p/admin/{PROJECT}/reports/{report.id}"
    assert report.version == 1

    listed = fwtrack.Api().reports(PROJECT)
    assert [r.id for r in listed] == [report.id]
    assert listed[0].title == "Sweep"
    assert listed[0].description == "what we found"
    assert listed[0].blocks == _blocks_of(report)
    # the server holds the document the contract describes
    doc = online.get(f"/reports/admin/{PROJECT}/{report.id}")
    line = doc["blocks"][2]
    assert line["type"] == "line"
    assert line["runs"] == {"filter": "config.lr > 0.01 and tags ~ baseline"}
    assert line["group"] == {"by": "config.seed", "agg": "median", "band": "std"}
    assert [b["type"] for b in doc["blocks"]] == [
        "markdown", "markdown", "line", "runs_table", "parallel", "media", "histogram",
        "scalar", "scalar", "lineage", "compare", "image",
    ]  # fmt: skip

    for loaded in (
        fwtrack.Api().report(url),
        fwtrack.Api().report(f"{PROJECT}/{report.id}"),
        fwtrack.Api().report(str(report.id)),
        fr.Report.from_url(url),
        fr.load(f"admin/{PROJECT}/{report.id}"),
    ):
        assert loaded.blocks == report.blocks
        assert (loaded.title, loaded.url, loaded.version) == ("Sweep", url, 1)
        assert isinstance(loaded.blocks[8], fr.BarPlot)

    with pytest.raises(ReportNotFoundError):
        fwtrack.Api().report(f"{PROJECT}/zzzzzzzzzz")


def _blocks_of(report: fr.Report) -> list[fr.Block]:
    return list(report.blocks)


def test_two_python_editors_merge_per_block(online: Server) -> None:
    first = fwtrack.Report(PROJECT, "Merged", blocks=[fr.Markdown("a0"), fr.Markdown("b0")])
    url = first.save()
    second = fr.Report.from_url(url)
    a, b = first.blocks
    first.blocks[0] = fr.Markdown("a1", id=a.id)
    first.save()
    second.blocks[1] = fr.Markdown("b1", id=b.id)
    second.blocks.append(fr.LinePlot(runs="config.lr > 0.01", y=["train/loss"]))
    second.save()
    final = fr.Report.from_url(url)
    assert [getattr(x, "text", None) for x in final.blocks] == ["a1", "b1", None]
    assert final.version == 3
    # deleting a block in Python deletes it on the server
    final.blocks.pop(0)
    final.save()
    assert [x.id for x in fr.Report.from_url(url).blocks] == [b.id, final.blocks[1].id]


def test_local_image_is_uploaded(online: Server, tmp_path: Path) -> None:
    path = tmp_path / "figure.png"
    path.write_bytes(_png())
    report = fwtrack.Report(PROJECT, "Figures", blocks=[fr.Image(path, caption="grey")])
    report.save()
    (image,) = report.blocks
    assert isinstance(image, fr.Image)
    assert image.src is not None
    assert image.src.startswith("asset:blake3:")
    address = image.src.removeprefix("asset:")
    status, body = online.request(f"/reports/admin/{PROJECT}/{report.id}/assets/{address}")
    assert (status, body) == (200, _png())
    svg = tmp_path / "figure.svg"
    svg.write_text("<svg/>")
    with pytest.raises(ReportArgumentError, match="SVG"):
        fwtrack.Report(PROJECT, "Figures", blocks=[fr.Image(svg)]).save()


def test_bad_arguments_name_the_fix() -> None:
    with pytest.raises(ReportArgumentError, match=r"y=\['train/loss'\]"):
        fr.LinePlot(y="train/loss")  # type: ignore[arg-type]
    with pytest.raises(ReportArgumentError, match=r"0\.\.0\.999"):
        fr.LinePlot(y=["loss"], smoothing=2)
    with pytest.raises(ReportArgumentError, match=r"filters= or ids="):
        fr.Runset(filters="state = finished", ids=["a"])
    with pytest.raises(ReportArgumentError, match=r"config\.<key>"):
        fr.LinePlot(y=["loss"], group="seed")
    with pytest.raises(ReportArgumentError, match="not a block"):
        fwtrack.Report(PROJECT, "T", blocks=["# text"])  # type: ignore[list-item]
    with pytest.raises(ReportArgumentError, match=r"summary\.<key>"):
        fr.ScalarChart(key="acc")
    with pytest.raises(ReportArgumentError, match="https://"):
        fr.Image("http://example.com/a.png")
    with pytest.raises(ReportArgumentError, match="model:v3"):
        fr.Lineage(artifact="model")
    with pytest.raises(ReportArgumentError, match="report URL"):
        fr.Report.from_url("http://example.com/not-a-report")
    assert issubclass(ReportArgumentError, fwtrack.FwTrackError)
    assert issubclass(ReportArgumentError, ValueError)


@pytest.mark.timeout(300)  # a fwtrack ui process starts (slow on a loaded machine)
def test_offline_save_shows_in_fwtrack_ui(tmp_dir: Path) -> None:
    runs_dir = tmp_dir / "fwtrack"
    figure = tmp_dir / "figure.png"
    figure.write_bytes(_png())
    report = fwtrack.Report(PROJECT, "Offline notes", blocks=[*_blocks(), fr.Image(figure)])
    url = report.save()
    image = report.blocks[-1]
    assert isinstance(image, fr.Image)
    assert image.src is not None
    address = image.src.removeprefix("asset:")
    assert url.startswith("http://127.0.0.1:8080/#/p/local/")
    assert (runs_dir / ".fwtrack-ui" / "fwtrack.db").is_file()
    again = fwtrack.Api(runs_dir).reports(PROJECT)
    assert [r.blocks for r in again] == [report.blocks]

    ui = Ui(tmp_dir, runs_dir)
    try:
        ui.wait_for("health", lambda: ui.get("/health")[0] == 200)
        status, listed = ui.get(f"/reports/local/{PROJECT}")
        assert status == 200
        assert [(r["id"], r["title"]) for r in listed["reports"]] == [(report.id, "Offline notes")]
        status, doc = ui.get(f"/reports/local/{PROJECT}/{report.id}")
        assert status == 200
        assert [fr.block_from_json(b) for b in doc["blocks"]] == report.blocks
        asset = f"{ui.url}/reports/local/{PROJECT}/{report.id}/assets/{address}"
        with urllib.request.urlopen(asset, timeout=30) as resp:
            assert resp.headers["Content-Type"] == "image/png"
            assert resp.read() == _png()
        # the ui saves edits too (its one local user)
        body = json.dumps(
            {
                "base_version": report.version,
                "ops": [{"op": "upsert", "block": fr.Markdown("more").to_json()}],
            }
        ).encode()
        req = urllib.request.Request(
            f"{ui.url}/reports/local/{PROJECT}/{report.id}",
            data=body,
            method="PATCH",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            saved = json.loads(resp.read())
        assert saved["report"]["version"] == report.version + 1
        assert saved["conflicts"] == []
    finally:
        ui.stop()
    assert report.version == 2  # created, then its image added
    assert fr.load(f"{PROJECT}/{report.id}").version == 3
