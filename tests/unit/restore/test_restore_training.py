"""Restoration training: stage 1 (resume exactness), convert, stage 2 (D/G alternation, EMA),
export. Tiny networks (mid 8, 1 block), 3-frame 32 px clips, one torch thread."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from mosaicflow.config import build, validate_config
from mosaicflow.restore.basicvsrpp import BasicVSRPlusPlusNet
from mosaicflow.restore.config import RestorationConfig, job_from
from mosaicflow.restore.ema import ema_update
from mosaicflow.restore.errors import TrainingError
from mosaicflow.restore.export import convert, export, split_stage2
from mosaicflow.restore.loop import StageRun
from mosaicflow.restore.models import PERCEPTUAL_OFF, build_perceptual_loss
from mosaicflow.restore.sampling import (
    IterationBatchSampler,
    WeightedIterationBatchSampler,
    make_loader,
)
from mosaicflow.restore.stage1 import _optim_wrapper, train_stage1
from mosaicflow.restore.stage2 import Stage2Model, train_stage2
from mosaicflow.restore.weights import WeightsError, read_checkpoint

SIZE, FRAMES = 32, 3


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class Clips(torch.utils.data.Dataset):
    """Deterministic (lq, gt, mask) clips: smooth random images, 8 px block mosaic in a square."""

    def __init__(self, n: int, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.items = []
        for _ in range(n):
            small = torch.rand(1, 3, SIZE // 8, SIZE // 8, generator=g)
            gt = torch.nn.functional.interpolate(small, size=(SIZE, SIZE), mode="bilinear")
            gt = gt.repeat(FRAMES, 1, 1, 1)
            mask = torch.zeros(FRAMES, 1, SIZE, SIZE)
            mask[:, :, 8:24, 8:24] = 1
            blocks = torch.nn.functional.avg_pool2d(gt, 8).repeat_interleave(8, -1)
            lq = mask * blocks.repeat_interleave(8, -2) + (1 - mask) * gt
            self.items.append((lq, gt, mask))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        return self.items[i]


class Crashing(Clips):
    """Raises (a "kill") on the ``crash_at``-th sample read."""

    def __init__(self, n: int, crash_at: int) -> None:
        super().__init__(n)
        self.reads, self.crash_at = 0, crash_at

    def __getitem__(self, i: int):
        self.reads += 1
        if self.reads == self.crash_at:
            raise KeyboardInterrupt("simulated kill")
        return super().__getitem__(i)


def make_cfg(**stage_overrides) -> RestorationConfig:
    stage = {"size": SIZE, "num_frames": FRAMES, "checkpoint_every": 2, "val_every": 2}
    s1 = {**stage, "iterations": 4, **stage_overrides.get("stage1", {})}
    s2 = {**stage, "iterations": 2, "disc_mid_channels": 8, **stage_overrides.get("stage2", {})}
    restoration = {"mid_channels": 8, "num_blocks": 1, "hr_skip": False, "init_weights": "random"}
    config = {"restoration": {**restoration, "stage1": s1, "stage2": s2}}
    validate_config(config)
    return build(RestorationConfig, config["restoration"])


def state_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def initial_generator(seed: int = 0) -> BasicVSRPlusPlusNet:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return BasicVSRPlusPlusNet(8, 1)


# -- stage 1 ---------------------------------------------------------------------------------
def test_sampler_is_a_pure_function_of_seed_and_iteration():
    full = list(IterationBatchSampler(5, 2, seed=3, start=0, stop=7))
    tail = list(IterationBatchSampler(5, 2, seed=3, start=4, stop=7))
    assert full[4:] == tail
    flat = [i for b in full for i in b]
    assert sorted(flat[:5]) == list(range(5))  # each pass is a permutation
    assert full != list(IterationBatchSampler(5, 2, seed=4, start=0, stop=7))


def test_weighted_sampler_is_pure_and_follows_the_weights():
    weights = [0.0, 1.0, 3.0]
    full = list(WeightedIterationBatchSampler(weights, 4, seed=3, start=0, stop=2000))
    tail = list(WeightedIterationBatchSampler(weights, 4, seed=3, start=1500, stop=2000))
    assert full[1500:] == tail  # a resume draws the same batches
    flat = np.array([i for b in full for i in b])
    assert (flat != 0).all()
    assert abs((flat == 2).mean() - 0.75) < 0.02
    with pytest.raises(TrainingError, match="weights"):
        WeightedIterationBatchSampler([0.0, 0.0], 1, seed=0, start=0, stop=1)
    with pytest.raises(TrainingError, match="2 sample weights for 3"):
        make_loader(list(range(3)), 1, 0, 0, 1, 0, False, weights=[1.0, 1.0])


def test_stage1_step_changes_weights_and_records(tmp_path: Path):
    cfg = make_cfg(stage1={"iterations": 2, "fix_iter": 2})
    result = train_stage1(
        job_from(cfg, "stage1"),
        StageRun(
            Clips(3),
            Clips(1, seed=9),
            tmp_path / "work",
            tmp_path / "g.pt",
            seed=0,
            device="cpu",
            metrics_out=tmp_path / "m.json",
            data_hash="d1",
        ),
    )
    after = read_checkpoint(tmp_path / "g.pt")
    before = initial_generator().state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert any(k.startswith("backbone.") for k in changed)
    # SPyNet is frozen for the first fix_iter iterations
    assert not [k for k in changed if k.startswith("spynet.")]
    BasicVSRPlusPlusNet(8, 1).load_state_dict(after, strict=True)
    assert result.losses["pixel"] > 0 and torch.isfinite(torch.tensor(result.losses["pixel"]))
    assert [v["iter"] for v in result.validation] == [0, 2]
    assert set(result.baselines) == {"input", "blur", "blur_search"}
    saved = json.loads((tmp_path / "m.json").read_text())
    assert saved["data_hash"] == "d1" and saved["validation"] == result.validation
    val_file = json.loads((tmp_path / "work" / "validation.json").read_text())
    assert val_file["validation"] == result.validation


def test_stage1_spynet_learning_rate_multiplier():
    model = BasicVSRPlusPlusNet(8, 1)
    optim = _optim_wrapper(model, 1e-3, 0.25, (0.9, 0.99))
    groups = optim.optimizer.param_groups
    assert [g["lr"] for g in groups] == [1e-3, 2.5e-4]
    spynet_ids = {id(p) for p in model.spynet.parameters()}
    assert {id(p) for p in groups[1]["params"]} == spynet_ids
    assert groups[0]["betas"] == (0.9, 0.99)


def test_stage1_resume_after_kill_gives_identical_weights(tmp_path: Path):
    cfg = make_cfg(stage1={"iterations": 4, "fix_iter": 1, "schedule": "cosine"})
    args = dict(seed=1, device="cpu")
    straight = train_stage1(
        job_from(cfg, "stage1"),
        StageRun(Clips(3), Clips(1, 9), tmp_path / "a", tmp_path / "a.pt", **args),
    )
    with pytest.raises(KeyboardInterrupt):  # killed while reading the 4th sample
        train_stage1(
            job_from(cfg, "stage1"),
            StageRun(
                Crashing(3, crash_at=4), Clips(1, 9), tmp_path / "b", tmp_path / "b.pt", **args
            ),
        )
    assert not (tmp_path / "b.pt").exists()
    assert read_checkpoint(tmp_path / "b" / "last.pt")["iteration"] == 2
    resumed = train_stage1(
        job_from(cfg, "stage1"),
        StageRun(Clips(3), Clips(1, 9), tmp_path / "b", tmp_path / "b.pt", **args),
    )
    assert resumed.resumed_from == 2
    assert state_equal(read_checkpoint(tmp_path / "a.pt"), read_checkpoint(tmp_path / "b.pt"))
    assert resumed.loss_curve == straight.loss_curve
    assert resumed.validation == straight.validation
    last_a = read_checkpoint(tmp_path / "a" / "last.pt")
    last_b = read_checkpoint(tmp_path / "b" / "last.pt")
    assert (
        last_a["optimizers"]["generator"]["param_groups"]
        == (last_b["optimizers"]["generator"]["param_groups"])
    )


def test_stage1_refuses_a_checkpoint_of_another_training(tmp_path: Path):
    cfg = make_cfg(stage1={"iterations": 2})
    first = {"p": {"r": {"lr": 1}}, "seed": 0, "data": "d"}
    train_stage1(
        job_from(cfg, "stage1"),
        StageRun(Clips(2), None, tmp_path / "w", tmp_path / "g.pt", seed=0, device="cpu",
                 identity=first),
    )  # fmt: skip
    assert read_checkpoint(tmp_path / "w" / "last.pt")["identity"] == first
    other = make_cfg(stage1={"iterations": 3})
    with pytest.raises(TrainingError, match=r"last\.pt: checkpoint of another training"):
        train_stage1(
            job_from(other, "stage1"),
            StageRun(Clips(2), None, tmp_path / "w", tmp_path / "g.pt", seed=0,
                     identity={**first, "data": "e"}),
        )  # fmt: skip


def test_stage1_rejects_bad_samples(tmp_path: Path):
    class Bad(Clips):
        def __getitem__(self, i):
            lq, gt, mask = super().__getitem__(i)
            return lq, gt, mask[:, :, :8]

    cfg = make_cfg(stage1={"iterations": 1})
    with pytest.raises(TrainingError, match="mask"):
        train_stage1(
            job_from(cfg, "stage1"),
            StageRun(Bad(1), None, tmp_path / "w", tmp_path / "g.pt", seed=0, device="cpu"),
        )


# -- EMA -------------------------------------------------------------------------------------
def test_ema_follows_the_formula():
    torch.manual_seed(0)
    model, ema = torch.nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    with torch.no_grad():
        for p in [*model.parameters(), *ema.parameters()]:
            p.normal_()
        model.running_mean.fill_(2.0)
    before = {k: v.clone() for k, v in ema.state_dict().items()}
    m = 0.001
    ema_update(ema, model, m)
    for name, p in model.named_parameters():
        expected = (1 - m) * before[name] + m * p.detach()
        torch.testing.assert_close(dict(ema.named_parameters())[name].detach(), expected)
    assert torch.equal(ema.running_mean, model.running_mean)  # buffers are copied
    with pytest.raises(ValueError, match=r"EMA momentum must be in \(0, 1\], got 0\.0"):
        ema_update(ema, model, 0.0)
    with pytest.raises(ValueError, match=r"differ in shape: \['weight', 'bias'\]"):
        ema_update(torch.nn.Linear(2, 2), model, m)


# -- convert, stage 2, export ----------------------------------------------------------------
@pytest.fixture()
def converted(tmp_path: Path) -> tuple[RestorationConfig, Path, Path]:
    cfg = make_cfg()
    stage1 = tmp_path / "stage1.pt"
    net = initial_generator(5)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.01 * torch.randn_like(p))
    torch.save(net.state_dict(), stage1)
    init = convert(job_from(cfg, "convert"), stage1, tmp_path / "converted.pt", seed=0)
    return cfg, stage1, init


def test_convert_round_trip(converted):
    cfg, stage1, init = converted
    parts = split_stage2(read_checkpoint(init), str(init))
    source = read_checkpoint(stage1)
    assert state_equal(parts["generator"], source)
    assert state_equal(parts["generator_ema"], source)
    model = Stage2Model(job_from(cfg, "stage2"), None)
    model.load_parts(parts, str(init))  # strict for all three networks
    assert any(k.endswith("weight_orig") for k in parts["discriminator"])
    with pytest.raises(WeightsError, match=r"converted\.pt"):
        split_stage2({"generator.x": torch.zeros(1), "other.y": torch.zeros(1)}, "converted.pt")
    wrong = make_cfg()
    wrong = RestorationConfig(**{**wrong.__dict__, "mid_channels": 16})
    with pytest.raises(WeightsError, match=r"stage1\.pt"):
        convert(job_from(wrong, "convert"), stage1, init.parent / "x.pt", seed=0)


def test_stage2_alternates_generator_and_discriminator(converted):
    cfg, _, init = converted
    model = Stage2Model(job_from(cfg, "stage2"), None)
    model.load_parts(split_stage2(read_checkpoint(init), str(init)), str(init))
    gen = dict(model.generator.named_parameters())
    disc = dict(model.discriminator.named_parameters())
    seen = {}
    g_step, d_step = model.g_optim.step, model.d_optim.step

    def spy_g(**kw):
        seen["g: disc grads"] = [n for n, p in disc.items() if p.grad is not None]
        seen["g: gen grads"] = [n for n, p in gen.items() if p.grad is not None]
        seen["d before g step"] = {n: p.detach().clone() for n, p in disc.items()}
        return g_step(**kw)

    def spy_d(**kw):
        seen["d: gen grads"] = [n for n, p in gen.items() if p.grad is not None]
        seen["d: disc grads"] = [n for n, p in disc.items() if p.grad is not None]
        seen["d at d step"] = {n: p.detach().clone() for n, p in disc.items()}
        return d_step(**kw)

    model.g_optim.step, model.d_optim.step = spy_g, spy_d
    ema_before = {k: v.clone() for k, v in model.generator_ema.state_dict().items()}
    gen_before = {k: v.detach().clone() for k, v in gen.items()}
    lq, gt, mask = (x.unsqueeze(0) for x in Clips(1)[0])
    losses = model.step(lq, gt, mask)
    assert set(losses) == {"pixel", "gan", "g_total", "d_real", "d_fake"}  # perceptual off
    assert all(torch.isfinite(torch.tensor(v)) for v in losses.values())
    # generator step: the GAN loss gives the discriminator no gradient
    assert seen["g: disc grads"] == []
    assert seen["g: gen grads"] and not any(n.startswith("spynet.") for n in seen["g: gen grads"])
    # the discriminator is unchanged by the generator step
    assert state_equal(seen["d before g step"], seen["d at d step"])
    # discriminator step: fakes are detached, the generator gets no gradient
    assert seen["d: gen grads"] == []
    assert len(seen["d: disc grads"]) == len(disc)
    # both networks moved; SPyNet stays frozen
    assert not state_equal(gen_before, {k: v.detach() for k, v in gen.items()})
    assert not state_equal(seen["d at d step"], {k: v.detach() for k, v in disc.items()})
    assert all(torch.equal(gen_before[k], gen[k]) for k in gen if k.startswith("spynet."))
    # EMA: (1 - m) * ema + m * generator after the step
    m = cfg.stage2.ema_momentum
    for name, p in model.generator_ema.named_parameters():
        torch.testing.assert_close(p, (1 - m) * ema_before[name] + m * gen[name].detach())


def test_stage2_without_vgg_says_so_loudly(caplog):
    cfg = make_cfg()
    with caplog.at_level(logging.WARNING):
        perceptual, notes = build_perceptual_loss(job_from(cfg, "stage2"))
    assert perceptual is None and notes == [PERCEPTUAL_OFF]
    assert "perceptual loss OFF" in caplog.text


def test_stage2_train_resume_and_export(converted, tmp_path: Path):
    cfg, _, init = converted
    cfg = RestorationConfig(
        **{**cfg.__dict__, "stage2": type(cfg.stage2)(**{**cfg.stage2.__dict__, "iterations": 3})}
    )
    args = dict(seed=2, device="cpu")
    res = train_stage2(
        job_from(cfg, "stage2"),
        init,
        StageRun(
            Clips(3),
            Clips(1, 9),
            tmp_path / "a",
            tmp_path / "a.pt",
            metrics_out=tmp_path / "m2.json",
            **args,
        ),
    )
    assert res.notes == [PERCEPTUAL_OFF]
    assert {"pixel", "gan", "d_real", "d_fake"} <= set(res.losses)
    with pytest.raises(KeyboardInterrupt):  # Crashing's simulated kill at the 3rd sample read
        train_stage2(
            job_from(cfg, "stage2"),
            init,
            StageRun(Crashing(3, 3), Clips(1, 9), tmp_path / "b", tmp_path / "b.pt", **args),
        )
    resumed = train_stage2(
        job_from(cfg, "stage2"),
        init,
        StageRun(Clips(3), Clips(1, 9), tmp_path / "b", tmp_path / "b.pt", **args),
    )
    assert resumed.resumed_from == 2
    a, b = read_checkpoint(tmp_path / "a.pt"), read_checkpoint(tmp_path / "b.pt")
    assert state_equal(a, b)
    parts = split_stage2(a, "a.pt")
    init_parts = split_stage2(read_checkpoint(init), "init")
    assert not state_equal(parts["generator"], init_parts["generator"])
    assert not state_equal(parts["generator_ema"], parts["generator"])

    # export: the EMA generator only, reference layout, strict load; the card
    (tmp_path / "m1.json").write_text(json.dumps({"iterations": 4, "validation": [], "notes": []}))
    card = export(
        job_from(cfg, "export"),
        tmp_path / "a.pt",
        tmp_path / "final.pt",
        tmp_path / "card.json",
        stage1_metrics=tmp_path / "m1.json",
        stage2_metrics=tmp_path / "m2.json",
        data_hash="dh",
        config_hash="ch",
        code_hash="kh",
    )
    exported = read_checkpoint(tmp_path / "final.pt")
    assert state_equal(exported, parts["generator_ema"])
    net = BasicVSRPlusPlusNet(8, 1)
    net.load_state_dict(exported, strict=True)
    saved = json.loads((tmp_path / "card.json").read_text())
    assert saved == json.loads(json.dumps(card))
    assert card["iterations"] == {"stage1": 4, "stage2": 3}
    assert card["input_size"] == SIZE and card["num_frames"] == FRAMES
    assert card["stage2"]["validation"] == res.validation and res.validation[-1]["iter"] == 3
    assert card["final_validation"] == res.validation[-1]
    assert card["notes"] == [PERCEPTUAL_OFF]
    assert (card["data_hash"], card["config_hash"], card["code_hash"]) == ("dh", "ch", "kh")
    assert set(card["baselines"]) == {"input", "blur", "blur_search"}
    small = copy.deepcopy(cfg)
    small = RestorationConfig(**{**small.__dict__, "num_blocks": 2})
    with pytest.raises(WeightsError, match=r"a\.pt"):
        export(job_from(small, "export"), tmp_path / "a.pt", tmp_path / "x.pt", tmp_path / "x.json")


def test_scalars_fall_back_to_json_lines_without_tensorboard(tmp_path: Path, monkeypatch):
    import sys

    from mosaicflow.restore.records import ScalarWriter

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    writer = ScalarWriter(tmp_path, start=0)
    writer.add({"loss/pixel": 0.5}, 3)
    writer.close()
    lines = (tmp_path / "scalars.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [{"loss/pixel": 0.5, "step": 3}]
    assert not (tmp_path / "tb").exists()
