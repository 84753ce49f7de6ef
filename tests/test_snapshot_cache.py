"""The environment snapshot's package list is cached per environment: a run with the default
captures records it whether the cache is cold or warm, and installing a distribution (a new
`*.dist-info` on the path) changes the key, so the next run scans again."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

import fwtrack
from fwtrack.sdk import snapshot

pytestmark = pytest.mark.usefixtures("tmp_dir")


def _requirements_of_a_run() -> list[str]:
    run = fwtrack.init(project="snap")  # default captures
    run.finish()
    return (Path(run.dir) / "files" / "requirements.txt").read_text().splitlines()


def _cached() -> list[Path]:
    folder = snapshot.cache_dir()
    return sorted(folder.glob("requirements-*.txt")) if folder.is_dir() else []


def _importlib_list() -> list[str]:
    """The package list as importlib.metadata's parsed metadata gives it."""
    lines = set()
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"] if dist.metadata else None
        if name:
            lines.add(f"{name}=={dist.version}")
    return sorted(lines, key=str.lower)


def _install(site: Path, name: str, version: str) -> None:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: test\n\nbody\n"
    )


def test_cold_then_warm_cache_records_the_package_list() -> None:
    assert _cached() == []
    cold = _requirements_of_a_run()
    assert cold == _importlib_list()
    assert any(line.startswith("numpy==") for line in cold)
    (entry,) = _cached()
    assert entry.read_text().splitlines() == cold

    # A warm run reads the list from the cache: what the cache holds is what it records.
    entry.write_text("".join(f"{line}\n" for line in [*cold, "from-the-cache==1"]))
    warm = _requirements_of_a_run()
    assert warm == [*cold, "from-the-cache==1"]
    assert _cached() == [entry]


def test_installing_or_removing_a_distribution_invalidates_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    before = _requirements_of_a_run()
    key = snapshot.environment_key()
    (site / "unrelated.py").write_text("x = 1\n")  # not a distribution: same key
    assert snapshot.environment_key() == key

    _install(site, "fwtrack-p3-fake", "1.0")
    assert snapshot.environment_key() != key
    installed = _requirements_of_a_run()
    assert installed == sorted([*before, "fwtrack-p3-fake==1.0"], key=str.lower)

    (site / "fwtrack_p3_fake-1.0.dist-info" / "METADATA").unlink()
    (site / "fwtrack_p3_fake-1.0.dist-info").rmdir()
    _install(site, "fwtrack-p3-fake", "2.0")  # upgraded
    assert _requirements_of_a_run() == sorted([*before, "fwtrack-p3-fake==2.0"], key=str.lower)
    assert len(_cached()) == 3


def test_fast_scan_matches_importlib_metadata() -> None:
    assert snapshot.scan_requirements().splitlines() == _importlib_list()


def test_host_probes_are_cached_per_boot() -> None:
    first = snapshot.host_probes()
    assert isinstance(first["os"], str)
    assert isinstance(first["nvml"], dict)
    assert snapshot.host_probes() == first
