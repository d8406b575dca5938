"""Training plumbing without training: datasets, their mirror, state keys, offline set-up."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from mosaicflow.yolo.dataset import mirror_dataset, read_dataset
from mosaicflow.yolo.fit import CheckpointCadence, TimeCap, state_key, trim_results_csv
from mosaicflow.yolo.spec import TrainSpec, plain


def make_dataset(root: Path, names="[text, logo]", layout="train/images") -> Path:
    for split in ("train", "val"):
        (root / split / "images").mkdir(parents=True)
        (root / split / "labels").mkdir(parents=True)
        for i in range(2):
            (root / split / "images" / f"{split}{i}.jpg").write_bytes(b"jpeg" + bytes([i]))
            (root / split / "labels" / f"{split}{i}.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    val = layout.replace("train", "val")
    (root / "data.yaml").write_text(f"path: .\ntrain: {layout}\nval: {val}\nnames: {names}\n")
    return root


def spec(**changes) -> TrainSpec:
    base = dict(task="detect", model="yolo11n.yaml", pretrained=None, weights=None, imgsz=64,
                epochs=1, time_minutes=0, optimizer="SGD", lr0=0.01, warmup_bias_lr=0.1,
                batch=2, nbs=None, warmup_epochs=1, val_during_training=False, close_mosaic=1,
                single_cls=False)  # fmt: skip
    return TrainSpec(**{**base, **changes})


def test_read_dataset_resolves_relative_paths_and_names(tmp_path):
    info = read_dataset(make_dataset(tmp_path / "pita"))
    assert info.names == {0: "text", 1: "logo"}
    assert info.splits["val"] == (tmp_path / "pita" / "val" / "images").resolve()
    assert info.counts == {"train_images": 2, "val_images": 2}


@pytest.mark.parametrize(
    ("names", "layout", "message"),
    [("[]", "train/images", "names"), ("[a]", "train/pics", "images")],
)
def test_read_dataset_errors_name_the_file(tmp_path, names, layout, message):
    root = make_dataset(tmp_path / "d", names=names)
    if layout != "train/images":
        for split in ("train", "val"):
            (root / split / "images").rename(root / split / "pics")
        text = (root / "data.yaml").read_text().replace("images", "pics")
        (root / "data.yaml").write_text(text)
    with pytest.raises(ValueError, match=message) as err:
        read_dataset(root)
    assert "data.yaml" in str(err.value)
    with pytest.raises(ValueError, match="not found"):
        read_dataset(tmp_path / "missing")


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_label_file_that_would_be_read_forever_is_refused(tmp_path, kind):
    import os

    root = make_dataset(tmp_path / "d")
    label = root / "train" / "labels" / "train0.txt"
    label.unlink()
    if kind == "fifo":
        os.mkfifo(label)
    else:
        label.symlink_to("/dev/zero")
    with pytest.raises(ValueError, match=r"train0\.txt: a label file must be a regular file"):
        read_dataset(root)


def test_data_hash_follows_content(tmp_path):
    root = make_dataset(tmp_path / "d")
    first = read_dataset(root).data_hash
    assert read_dataset(root).data_hash == first
    (root / "train" / "labels" / "train0.txt").write_text("1 0.5 0.5 0.2 0.2\n")
    changed = read_dataset(root).data_hash
    assert changed != first
    assert state_key(spec(), changed, 1, "cpu") != state_key(spec(), first, 1, "cpu")
    assert state_key(spec(), first, 1, "cpu") != state_key(spec(imgsz=96), first, 1, "cpu")
    # a start from another model of the run: its bytes, not only its path, name the folder
    started = state_key(spec(), first, 1, "cpu", init="aaaa")
    assert started != state_key(spec(), first, 1, "cpu")
    assert started != state_key(spec(), first, 1, "cpu", init="bbbb")
    assert state_key(spec(), first, 1, "cpu", init="") == state_key(spec(), first, 1, "cpu")
    # a code change trains afresh: a finished run of other code is not resumed
    assert state_key(spec(), first, 1, "cpu", code="a") != state_key(
        spec(), first, 1, "cpu", code="b"
    )


def test_mirror_keeps_caches_out_of_the_input(tmp_path):
    root = make_dataset(tmp_path / "d")
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    data_yaml = mirror_dataset(read_dataset(root), tmp_path / "work" / "data")
    mirror = data_yaml.parent
    assert (mirror / "train" / "images").is_dir() and not (mirror / "train" / "images").is_symlink()
    link = mirror / "train" / "images" / "train0.jpg"
    assert link.is_symlink() and link.read_bytes() == b"jpeg\x00"
    (mirror / "train" / "labels.cache").write_text("cache")  # where ultralytics puts it
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
    mirror_dataset(read_dataset(root), mirror.parent / "data")  # idempotent
    assert (mirror / "val" / "labels" / "val1.txt").is_file()


def test_offline_setup_survives_a_removed_config_folder(tmp_path):
    """A long-lived process (a test session, a notebook) prepares ultralytics for a second run
    after the first run's folder, which holds ultralytics' config folder, was removed."""
    code = (
        "import shutil, sys\n"
        "from mosaicflow.yolo.offline import prepare_ultralytics\n"
        "prepare_ultralytics(sys.argv[1], 1)\n"
        "shutil.rmtree(sys.argv[1])\n"
        "prepare_ultralytics(sys.argv[2], 1)\n"
    )
    first, second = tmp_path / "first", tmp_path / "second"
    env = {k: v for k, v in os.environ.items() if k != "YOLO_CONFIG_DIR"}
    proc = subprocess.run([sys.executable, "-c", code, str(first), str(second)],
                          capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert (first / "Ultralytics" / "Arial.ttf").is_file()
    assert (second / "Ultralytics" / "Arial.ttf").is_file()


def test_offline_setup_keeps_settings_in_the_run_folder(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    code = (
        "import json, os, sys; from pathlib import Path\n"
        "from mosaicflow.yolo.offline import prepare_ultralytics\n"
        "u = prepare_ultralytics(sys.argv[1], 2)\n"
        "import torch, ultralytics.utils as uu, ultralytics.utils.torch_utils as tu\n"
        "tu.select_device('cpu', verbose=False)\n"
        "print(json.dumps({'dir': str(uu.USER_CONFIG_DIR), 'offline': os.environ['YOLO_OFFLINE'],"
        " 'threads': torch.get_num_threads(), 'sync': uu.SETTINGS['sync'],"
        " 'omp': os.environ.get('OMP_WAIT_POLICY')}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("YOLO_CONFIG_DIR", "OMP_WAIT_POLICY")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "cfg")],
                          capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert Path(out["dir"]) == (tmp_path / "cfg" / "Ultralytics").resolve()
    assert (out["offline"], out["threads"], out["sync"], out["omp"]) == (
        "true",
        2,
        False,
        "PASSIVE",
    )
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        assert (tmp_path / "cfg" / "Ultralytics" / name).stat().st_size > 100_000
    assert not (home / ".config" / "Ultralytics").exists()
    assert (tmp_path / "cfg" / "Ultralytics" / "settings.json").is_file()


def test_written_weights_drop_wall_clock_fields(tmp_path, monkeypatch):
    import torch

    from mosaicflow.yolo.checkpoint import read_checkpoint
    from mosaicflow.yolo.export import write_weights

    monkeypatch.chdir(tmp_path)
    args = {"data": str(tmp_path / "work" / "data.yaml"), "epochs": 2}
    model = torch.nn.Identity()  # read back by the restricted loader: a torch module, no stand-in
    model.args, model.w = dict(args), torch.ones(2)
    ckpt = {
        "date": "2026-11-22T07:51:15",
        "git": {"root": str(tmp_path), "branch": "main", "commit": "0" * 40},
        "train_results": {"epoch": [1, 2], "time": [0.38, 1.26], "train/box_loss": [0.1, 0.5]},
        "train_args": dict(args),
        "model": model,
        "ema": None,
    }
    torch.save(ckpt, tmp_path / "src.pt")
    write_weights(tmp_path / "src.pt", tmp_path / "out.pt")
    out = read_checkpoint(tmp_path / "out.pt")
    assert "date" not in out and "git" not in out
    assert out["train_results"] == {"epoch": [1, 2], "train/box_loss": [0.1, 0.5]}
    assert out["train_args"] == out["model"].args == {"data": "work/data.yaml", "epochs": 2}
    assert torch.equal(out["model"].w, torch.ones(2))
    ckpt["date"], ckpt["train_results"]["time"] = "2027-01-01", [9.9, 9.9]  # another run's clock
    ckpt["git"] = {"root": "/elsewhere", "branch": "dev", "commit": "1" * 40}  # another checkout
    torch.save(ckpt, tmp_path / "src.pt")
    write_weights(tmp_path / "src.pt", tmp_path / "again.pt")
    assert (tmp_path / "again.pt").read_bytes() == (tmp_path / "out.pt").read_bytes()


def test_copy_paste_only_for_segmentation_and_overrides_win():
    seg = spec(task="segment", copy_paste=0.5).train_args()
    assert seg["copy_paste"] == 0.5 and seg["nbs"] == seg["batch"] == 2
    assert "copy_paste" not in spec(task="detect", copy_paste=0.5).train_args()
    tuned = spec(task="segment", copy_paste=0.5, overrides={"copy_paste": 0.2, "lr0": 0.02})
    assert tuned.train_args()["copy_paste"] == 0.2 and tuned.train_args()["lr0"] == 0.02


def test_grid_preserving_training_turns_off_every_resampling_augmentation():
    from mosaicflow.yolo.spec import RESAMPLING_AUGMENTATIONS

    assert set(RESAMPLING_AUGMENTATIONS) == {"scale", "translate", "degrees", "shear",
                                             "perspective"}  # fmt: skip
    kept = spec(task="segment").train_args()
    assert not set(RESAMPLING_AUGMENTATIONS) & set(kept)  # ultralytics' defaults apply
    grid = spec(task="segment", resample_augmentation=False).train_args()
    assert {k: grid[k] for k in RESAMPLING_AUGMENTATIONS} == dict.fromkeys(
        RESAMPLING_AUGMENTATIONS, 0.0
    )
    assert "fliplr" not in grid and "mosaic" not in grid and "hsv_h" not in grid  # they stay
    tuned = spec(task="segment", resample_augmentation=False, overrides={"scale": 0.1})
    assert tuned.train_args()["scale"] == 0.1 and tuned.train_args()["shear"] == 0.0


def test_written_onnx_drops_the_date_and_absolute_paths(tmp_path, monkeypatch):
    import onnx
    from onnx import TensorProto, helper

    from mosaicflow.yolo.export import write_onnx

    monkeypatch.chdir(tmp_path)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    model = helper.make_model(helper.make_graph([helper.make_node("Identity", ["x"], ["y"])],
                                                "g", [x], [y]))  # fmt: skip
    for key, value in (
        ("date", "2026-11-22T09:00"),
        ("description", f"trained on {tmp_path}/a/data.yaml"),
    ):
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(tmp_path / "src.onnx"))
    write_onnx(tmp_path / "src.onnx", tmp_path / "out.onnx")
    props = {p.key: p.value for p in onnx.load(str(tmp_path / "out.onnx")).metadata_props}
    assert props == {"description": "trained on a/data.yaml"}


def test_pin_threads_sets_them_again_at_both_trainer_events():
    import torch

    from mosaicflow.yolo.offline import pin_threads

    class Model:  # records callbacks like ultralytics' YOLO.add_callback
        def __init__(self):
            self.callbacks: dict[str, list] = {}

        def add_callback(self, event, fn):
            self.callbacks.setdefault(event, []).append(fn)

    model, before = Model(), torch.get_num_threads()
    try:
        pin_threads(model, 1)
        assert set(model.callbacks) == {"on_pretrain_routine_start", "on_train_start"}
        for event, callbacks in model.callbacks.items():
            torch.set_num_threads(3)  # what ultralytics' select_device would do
            for fn in callbacks:
                fn(None)
            assert torch.get_num_threads() == 1, event
    finally:
        torch.set_num_threads(before)


class FakeTrainer:
    def __init__(self, epochs: int) -> None:
        self.epoch, self.epochs, self.stop = 0, epochs, False


def test_time_cap_stops_after_the_epoch_that_crosses_it():
    now = [100.0]
    cap = TimeCap(1.0, clock=lambda: now[0])  # one minute
    trainer = FakeTrainer(epochs=10)
    for epoch, elapsed in enumerate([20.0, 50.0, 61.0]):
        trainer.epoch, now[0] = epoch, 100.0 + elapsed
        cap(trainer)
    assert trainer.stop and cap.hit  # third epoch crossed 60 s


def test_time_cap_does_not_claim_the_final_epoch():
    now = [0.0]
    cap = TimeCap(0.5, clock=lambda: now[0])
    trainer = FakeTrainer(epochs=2)
    trainer.epoch, now[0] = 1, 999.0  # the planned last epoch: training ends by itself
    cap(trainer)
    assert not trainer.stop and not cap.hit


def _cadence_run(epochs, epoch_seconds, write_seconds, val=False, stop_at=None):
    """The epochs a cadence writes in a fake training with fixed epoch and write times."""
    now = [0.0]
    cadence = CheckpointCadence(ratio=9.0, clock=lambda: now[0])
    trainer = FakeTrainer(epochs)
    trainer.args = types.SimpleNamespace(val=val, save=True)
    written = []
    for epoch in range(epochs):
        trainer.epoch, trainer.stop = epoch, epoch == stop_at
        now[0] += epoch_seconds
        cadence.decide(trainer)
        if trainer.args.save or epoch + 1 >= epochs:  # ultralytics writes the final one anyway
            now[0] += write_seconds
            cadence.written(trainer)
            written.append(epoch)
        if trainer.stop:
            break
    return written


def test_checkpoints_of_short_epochs_are_spaced_by_their_write_time():
    # one-batch epochs of 0.7 s, writes of 0.25 s: one write per 2.25 s of training at most
    written = _cadence_run(200, 0.7, 0.25)
    assert written[0] == 0 and written[-1] == 199  # the first and the last epoch
    assert all(b - a == 4 for a, b in itertools.pairwise(written[:-1]))
    assert len(written) * 0.25 <= 0.12 * (200 * 0.7)  # writes cost about a tenth at most


def test_long_epochs_validated_epochs_and_stopping_epochs_are_all_written():
    assert _cadence_run(6, 30.0, 0.25) == list(range(6))  # the demo's epochs: every one
    assert _cadence_run(20, 0.5, 0.25, val=True) == list(range(20))
    assert _cadence_run(200, 0.7, 0.25, stop_at=37)[-1] == 37  # a time cap's last epoch


def test_spec_from_params_takes_every_training_field_by_name():
    from mosaicflow.config import build, validate_config
    from mosaicflow.yolo.config import WatermarkConfig
    from mosaicflow.yolo.models import model_spec

    config = {"profile": "demo", "watermark": {"single_cls": True, "epochs": 3}}
    validate_config(config)
    cfg = build(WatermarkConfig, config["watermark"])
    made = model_spec("watermark", plain(cfg))
    assert (made.task, made.single_cls, made.epochs, made.copy_paste) == ("detect", True, 3, 0.0)
    assert (made.optimizer, made.lr0, made.imgsz) == (cfg.optimizer, cfg.lr0, cfg.imgsz)


def test_model_card_adds_test_metrics_and_refuses_another_version(tmp_path):
    from mosaicflow.yolo.card import MODEL_JSON_VERSION, training_record, write_model_card
    from mosaicflow.yolo.fit import YoloTrainResult

    made = spec(time_minutes=None)
    result = YoloTrainResult(tmp_path / "w.pt", tmp_path, False, None, 0, 0.0, "weights")
    record = training_record(
        "watermark", made, result, config={"epochs": 1}, code="c0de", names={0: "text"},
        metrics={}, dataset=None, state_key="k", device="cpu", threads=1,
    )  # fmt: skip
    assert record["model"] == "watermark" and record["names"] == {"0": "text"}
    assert record["training"]["train_args"] == made.train_args()
    assert record["model_json_version"] == MODEL_JSON_VERSION
    train_json = tmp_path / "train.json"
    train_json.write_text(json.dumps(record))
    card = write_model_card(
        train_json, {"map50": 0.5}, tmp_path / "model.json", tmp_path / "m.json", code="e"
    )
    assert card["metrics"]["test"] == {"map50": 0.5} and card["evaluation_code_hash"] == "e"
    assert json.loads((tmp_path / "m.json").read_text()) == {
        "model": "watermark",
        "test": {"map50": 0.5},
    }
    assert "pr_curves" not in card
    pr = {"iou": 0.5, "recall": [0.0, 1.0], "precision": {"box": {"text": [1.0, 0.0]}}}
    card = write_model_card(train_json, {"map50": 0.5}, tmp_path / "model.json",
                            tmp_path / "m.json", code="e", pr_curves=pr)  # fmt: skip
    assert json.loads((tmp_path / "model.json").read_text())["pr_curves"] == pr
    assert "pr_curves" not in json.loads((tmp_path / "m.json").read_text())  # the card only
    threshold = {"source": "validation", "conf": 0.4321, "frame_fp_rate": 0.0}
    card = write_model_card(train_json, {"map50": 0.5}, tmp_path / "model.json",
                            tmp_path / "m.json", code="e", threshold=threshold)  # fmt: skip
    assert card["threshold"] == threshold
    assert json.loads((tmp_path / "m.json").read_text())["threshold"] == threshold
    train_json.write_text(json.dumps({**record, "model_json_version": MODEL_JSON_VERSION - 1}))
    with pytest.raises(ValueError, match=r"train\.json: training record version 1"):
        write_model_card(train_json, None, tmp_path / "x.json", tmp_path / "y.json", code="e")


def test_detection_threshold_comes_from_the_flag_the_card_or_the_default(tmp_path):
    from mosaicflow.yolo.card import DEFAULT_CONF, card_threshold, resolve_conf

    weights = tmp_path / "best.pt"
    assert resolve_conf(weights, None) == (DEFAULT_CONF, "default")  # no card
    card = tmp_path / "model.json"
    card.write_text(json.dumps({"model": "region_seg", "metrics": {}}))
    assert card_threshold(card) is None
    assert resolve_conf(weights, None) == (DEFAULT_CONF, "default")  # a card without one
    card.write_text(json.dumps({"model": "detector", "threshold": {"conf": 0.4321}}))
    assert card_threshold(card) == 0.4321
    assert resolve_conf(weights, None) == (0.4321, f"{card} threshold.conf")
    assert resolve_conf(weights, 0.1) == (0.1, "given")


def test_start_record_names_the_start_and_hashes_its_file(tmp_path):
    from mosaicflow.yolo.jobs import start_record

    base = tmp_path / "base.pt"
    base.write_bytes(b"base")
    digest = hashlib.sha256(b"base").hexdigest()
    for kind in ("base", "region_seg"):
        assert start_record(kind, spec(), base) == {"kind": kind, "weights": str(base),
                                                    "sha256": digest}  # fmt: skip
    tuned = spec(pretrained=str(base))
    assert start_record("pretrained", tuned, None)["sha256"] == digest
    assert start_record("scratch", spec(), None) == {"kind": "scratch", "model": "yolo11n.yaml"}
    with pytest.raises(ValueError, match="start 'base' does not match"):
        start_record("base", spec(), None)
    with pytest.raises(ValueError, match="start 'scratch' does not match"):
        start_record("scratch", spec(), base)


def test_resume_drops_the_results_row_written_after_the_checkpoint(tmp_path):
    # ultralytics appends epoch 3's row, then saves epoch 3's checkpoint: killed in between,
    # the run resumes after epoch 2 and would write epoch 3's row twice
    csv_path = tmp_path / "results.csv"
    rows = ["epoch,time,metrics/mAP50(B)\n"] + [f"{e},{e * 1.5:g},0.{e}\n" for e in (1, 2, 3)]
    csv_path.write_text("".join(rows))
    assert trim_results_csv(tmp_path, 2) == 1
    assert csv_path.read_text() == "".join(rows[:3])
    assert trim_results_csv(tmp_path, 2) == 0  # nothing more to drop
    assert trim_results_csv(tmp_path, 5) == 0
    assert csv_path.read_text() == "".join(rows[:3])
    assert trim_results_csv(tmp_path / "missing", 1) == 0


def test_fp16_inference_asks_for_an_argument_this_ultralytics_takes(tmp_path):
    from mosaicflow.yolo.adapter import precision_kwargs

    assert precision_kwargs(True, "cpu") == precision_kwargs(False, "cuda:0") == {}
    code = (
        "import sys\n"
        "from mosaicflow.yolo.offline import prepare_ultralytics\n"
        "prepare_ultralytics(sys.argv[1], 1)\n"
        "from ultralytics.cfg import get_cfg\n"
        "from mosaicflow.yolo.adapter import precision_kwargs\n"
        "print(get_cfg(overrides=precision_kwargs(True, 'cuda:0')).quantize)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "cfg")],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "16"
    assert "deprecated" not in proc.stderr + proc.stdout
