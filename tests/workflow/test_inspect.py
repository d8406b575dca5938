"""`mosaicflow inspect` loads the tiny run's datasets into FiftyOne and serves the App: the
datasets hold the expected samples and label fields, the App answers on loopback, and a
headless Chromium screenshot shows the samples grid.

Needs the FiftyOne environment (`make inspect-env`) and Chromium (`make test-deps`): skipped,
with the reason, where they are missing; in CI (``$CI`` set) their absence fails the test.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mosaicflow.inspection.cli import inspect_python
from tests.helpers import copy_run

pytestmark = pytest.mark.workflow

APP_START_S = 180
#: Screenshots taken before the grid counts as missing: on a busy machine the App can still be
#: loading ("Pixelating...") when Chromium's first shot is taken.
SCREENSHOTS = 4
SIDEBAR_PX = 320  # the App's left column; the samples grid is to its right


def _require(what: str, found: bool) -> None:
    if found:
        return
    message = f"{what} is missing: run `make test-deps`"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (required in CI)")
    pytest.skip(message)


@pytest.fixture(scope="module")
def inspect_env():
    try:
        inspect_python()
    except ValueError as error:
        _require(f"the FiftyOne environment ({error})", False)


@pytest.fixture(scope="module")
def results(tiny_run, tmp_path_factory) -> Path:
    """The tiny run's results, hard-linked into this module's own folder: `mosaicflow inspect`
    adds its cache (``results/inspect/``) there, and the shared tiny run stays as the other
    tests (the SLURM comparison among them) read it."""
    return copy_run(tiny_run / "results", tmp_path_factory.mktemp("inspected") / "run") / "results"


def _mosaicflow(*args: str) -> list[str]:
    return [sys.executable, "-m", "mosaicflow.cli", "inspect", *args]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_TWO_DATABASES = """
import sys
from pathlib import Path

import pymongo

from mosaicflow.inspection.database import PrivateMongod

first, second = (PrivateMongod(Path(folder)) for folder in sys.argv[1:3])
uris = [first.start(), second.start()]
for uri, label in zip(uris, ("first", "second")):
    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=20000)
    client["check"]["folders"].insert_one({"folder": label})
    print(uri, [d["folder"] for d in client["check"]["folders"].find()], flush=True)
try:
    PrivateMongod(Path(sys.argv[1])).start()
except RuntimeError as error:
    print("refused:", error, flush=True)
print(first.process.pid, flush=True)
sys.stdin.read()
"""


def test_each_results_folder_gets_its_own_database(inspect_env, tmp_path):
    """Two inspections at once each talk to the mongod of their own folder (never to another
    one's, nor to a control socket), a third on a busy folder is refused naming it, and the
    database stops when the process that started it is killed."""
    folders = [tmp_path / "a" / "db", tmp_path / "b" / "db"]
    owner = subprocess.Popen(
        [str(inspect_python()), "-c", _TWO_DATABASES, *map(str, folders)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        lines = [owner.stdout.readline().strip() for _ in range(4)]
        assert all(lines), owner.stderr.read()[-4000:]
        (uri_a, seen_a), (uri_b, seen_b) = (line.split(" ", 1) for line in lines[:2])
        assert uri_a != uri_b and (seen_a, seen_b) == ("['first']", "['second']")
        assert lines[2].startswith("refused:") and str(folders[0]) in lines[2], lines[2]
        assert all((folder / "mongod.lock").is_file() for folder in folders)
        mongod = int(lines[3])
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait(timeout=30)
        deadline = time.monotonic() + 60
        while _alive(mongod) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not _alive(mongod), "mongod outlived the process that started it"
    finally:
        owner.kill()


def _alive(pid: int) -> bool:
    """Whether the process runs (a zombie awaiting its dead parent's reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def test_inspect_loads_both_datasets_with_their_fields(results, inspect_env):
    proc = subprocess.run(
        _mosaicflow("--results", str(results), "--no-app", "--splits", "train,val,test"),
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    samples = pd.read_parquet(results / "detection_dataset" / "samples.parquet")
    detection = summary["detection"]
    assert detection["samples"] == len(samples) and detection["media_type"] == "image"
    shown = {"ground_truth", "mosaic_mask", "predictions", "mosaic_px", "video", "region_tag"}
    assert shown <= set(detection["fields"])
    assert detection["tags"] == samples["split"].value_counts().to_dict()
    index = pd.read_parquet(results / "restoration_dataset" / "index.parquet")
    clips = summary["clips"]
    assert clips["samples"] == int(index["kept"].sum()) and clips["media_type"] == "video"
    assert {"region_px", "watermark", "quality", "blockiness", "clip_path", "sheet"} | {
        "region_tags"
    } <= set(clips["fields"])
    # a predictions table covers every image of the three splits, cached for the next start
    tables = [pd.read_parquet(t) for t in (results / "inspect").glob("predictions-*.parquet")]
    assert any(set(table["image"]) == set(samples["image"]) for table in tables)
    assert len(list((results / "inspect" / "previews").glob("*.mp4"))) == clips["samples"]


def test_the_app_serves_and_shows_the_samples_grid(results, inspect_env, tmp_path):
    from PIL import Image

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    _require("Chromium", chromium is not None)
    port = _free_port()
    log = tmp_path / "app.log"
    with open(log, "w") as handle:
        app = subprocess.Popen(
            _mosaicflow("--results", str(results), "--port", str(port)),
            stdout=handle, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        status, deadline = None, time.monotonic() + APP_START_S
        while status != 200 and time.monotonic() < deadline and app.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as page:
                    status = page.status
            except OSError:
                time.sleep(1)
        assert status == 200, log.read_text()[-4000:]
        for attempt in range(SCREENSHOTS):
            shot = tmp_path / f"grid-{attempt}.png"
            subprocess.run(
                [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                 "--window-size=1400,900", "--virtual-time-budget=20000", f"--screenshot={shot}",
                 f"http://127.0.0.1:{port}/datasets/mosaicflow-detection"],
                capture_output=True, timeout=120, check=True,
            )  # fmt: skip
            image = np.asarray(Image.open(shot).convert("RGB"))
            assert image.shape[:2] == (900, 1400)
            grid = image[150:, SIDEBAR_PX:]
            # thumbnails of the images, not an empty dark page: many colours, bright pixels
            colours = len(np.unique(grid.reshape(-1, 3)[::7], axis=0))
            bright = (grid.max(axis=2) > 120).mean()
            if colours > 5000 and bright > 0.1:
                break
        assert colours > 5000 and bright > 0.1, (colours, bright, shot)
    finally:
        os.killpg(app.pid, signal.SIGTERM)
        try:
            app.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(app.pid, signal.SIGKILL)
