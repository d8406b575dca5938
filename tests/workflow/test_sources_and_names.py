"""User videos with odd names run end to end; broken videos are rejected without harm."""

from __future__ import annotations

import csv

import pytest

from mosaicflow.plan.sources import scan_folder
from tests.helpers import planned_jobs, run_snakemake, write_video

pytestmark = pytest.mark.workflow

ODD_NAMES = ["my clip 1.mp4", 'it\'s "quoted" $HOME.mp4', "東京 ünïcode.mkv"]


@pytest.fixture
def odd_source(tmp_path):
    source = tmp_path / "videos with space"
    for seed, name in enumerate(ODD_NAMES):
        write_video(source / name, frames=16, seed=seed)
    (source / "sub").mkdir()
    (source / "sub" / "broken.mp4").write_bytes(b"\x00not a video\xff" * 100)
    return source


def config_for(tmp_path, source, on_error="skip"):
    cfg = tmp_path / "source.yaml"
    cfg.write_text(f"source:\n  kind: videos\n  videos: '{source}'\n  on_error: {on_error}\n")
    return cfg


def test_odd_names_run_and_broken_video_is_rejected(tmp_path, odd_source):
    cfg = config_for(tmp_path, odd_source)
    run_snakemake(tmp_path, configfiles=[cfg])
    videos = {v.name: v for v in scan_folder(odd_source)}
    for name in ODD_NAMES:
        assert (tmp_path / "results" / "frames" / videos[name].id / "index.parquet").is_file()
    with open(tmp_path / "results" / "rejected.tsv", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert [row["video"] for row in rows] == [videos["sub/broken.mp4"].id]
    assert "broken.mp4" in rows[0]["path"]
    assert rows[0]["reason"]
    # a second run has nothing to do
    again = run_snakemake(tmp_path, "-n", configfiles=[cfg])
    assert planned_jobs(again.stdout) == {}


def test_on_error_fail_stops_naming_the_file(tmp_path, odd_source):
    cfg = config_for(tmp_path, odd_source, on_error="fail")
    proc = run_snakemake(tmp_path, "--keep-going", configfiles=[cfg], check=False)
    assert proc.returncode != 0
    assert "broken.mp4" in proc.stdout + proc.stderr
    videos = {v.name: v for v in scan_folder(odd_source)}
    for name in ODD_NAMES:  # the good videos' outputs are complete and untouched
        assert (tmp_path / "results" / "frames" / videos[name].id / "index.parquet").is_file()
