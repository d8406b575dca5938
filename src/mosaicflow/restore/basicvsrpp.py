"""BasicVSR++ (Chan et al., "BasicVSR++", CVPR 2022), same-resolution variant for restoration.

Pipeline per clip (N, T, 3, H, W) in [0, 1]:

1. features at 1/4 size: two stride-2 convolutions and 5 residual blocks per frame;
2. SPyNet flow between neighbouring frames on the bicubic 1/4-size frames;
3. second-order grid propagation: four branches in the order backward_1, forward_1,
   backward_2, forward_2; each branch walks the clip, aligns the propagated feature of the
   previous one and two steps (flow-guided deformable convolution: offsets = flow + bounded
   residue, modulation mask) and refines it with residual blocks that also see the current
   frame's feature and the outputs of the earlier branches;
4. reconstruction from all five features, two x2 pixel shuffles back to H x W (with ``hr_skip``,
   plus two convolutions of the full-resolution input frame), output convolutions, plus the
   input.

``state_dict()`` names and shapes equal the reference layout, so published BasicVSR++ and SPyNet
weights load with ``strict=True``. Inputs whose sides are not multiples of 4 or whose 1/4-size
frames are smaller than 64 px (the reference refuses these) are handled by reflect padding; the
output is cropped back to the input size.

The forward pass is free of host synchronisation (no ``.item()``, ``torch.equal`` or tensors
built from Python lists; every branch depends on shapes only), so a whole training step can be
captured in a CUDA graph. The reference decides whether a clip is mirror-extended by comparing
frames inside the forward pass; here the caller says so (``mirrored=True``, decided once with
:func:`is_mirror_extended` outside the step), and the default computes both flow directions.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from mosaicflow.restore.layers import PixelShuffleUp, ResidualStack, flow_warp, reflect_pad_to
from mosaicflow.restore.spynet import SPyNet
from mosaicflow.vision_import import import_torchvision

#: torchvision's modulated deformable convolution (torchvision imported with torch._dynamo
#: deferred, :mod:`mosaicflow.vision_import`).
deform_conv2d = import_torchvision().ops.deform_conv2d

BRANCHES = ("backward_1", "forward_1", "backward_2", "forward_2")
MIN_FLOW_SIZE = 64  # the 1/4-size frames given to SPyNet are padded up to this


def is_mirror_extended(lqs: torch.Tensor) -> bool:
    """Whether every clip of ``lqs`` (N, T, ...) is a palindrome in time with T even.

    Such clips (a clip followed by its reverse) may be restored with ``mirrored=True``, which
    halves the SPyNet work. This reads tensor values on the host (a device sync): call it
    outside a captured or timed step, e.g. where the batch is assembled.
    """
    t = lqs.shape[1]
    if t == 0 or t % 2:
        return False
    return torch.equal(lqs[:, : t // 2], lqs[:, t // 2 :].flip(1))


def quarter_size(frames: torch.Tensor) -> torch.Tensor:
    """The 1/4-size frames SPyNet sees: bicubic, of (N, 3, H, W) with H, W multiples of 4."""
    return F.interpolate(frames, scale_factor=0.25, mode="bicubic", align_corners=False)


def spynet_flow(spynet: nn.Module, ref: torch.Tensor, supp: torch.Tensor) -> torch.Tensor:
    """SPyNet's flow warping ``supp`` onto ``ref`` (N, 3, h, w), as the generator computes it:
    frames smaller than ``MIN_FLOW_SIZE`` are reflect-padded up to it, the flow cropped back."""
    h, w = ref.shape[-2:]
    ph, pw = max(h, MIN_FLOW_SIZE), max(w, MIN_FLOW_SIZE)
    if (ph, pw) == (h, w):
        return spynet(ref, supp)
    flow = spynet(reflect_pad_to(ref, ph, pw), reflect_pad_to(supp, ph, pw))
    return flow[..., :h, :w]


class SecondOrderDeformableAlignment(nn.Module):
    """Flow-guided modulated deformable convolution over two aligned candidates.

    The input ``x`` holds the features propagated from one and two steps back (2 x C channels).
    A small CNN looks at both features pre-warped by their flows, the current frame's feature
    and the two flows, and predicts per deform group and kernel tap an offset residue (bounded
    by ``max_residue_magnitude`` via tanh) and a modulation mask (sigmoid). The first half of
    the deform groups samples the one-step feature around its flow, the second half the two-step
    feature around the composed flow.

    Keys: ``weight``, ``bias`` (the deformable convolution), ``conv_offset.{0,2,4,6}``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        deform_groups: int = 16,
        max_residue_magnitude: float = 10.0,
        kernel_size: int = 3,
    ) -> None:
        super().__init__()
        if in_channels % deform_groups or deform_groups % 2:
            raise ValueError(
                f"in_channels={in_channels} must split into an even deform_groups={deform_groups}"
            )
        self.deform_groups = deform_groups
        self.kernel_size = kernel_size
        self.max_residue_magnitude = max_residue_magnitude
        taps = kernel_size * kernel_size
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.conv_offset = nn.Sequential(
            nn.Conv2d(3 * out_channels + 4, out_channels, 3, 1, 1),
            nn.LeakyReLU(0.1, inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, 1, 1),
            nn.LeakyReLU(0.1, inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, 1, 1),
            nn.LeakyReLU(0.1, inplace=True),
            nn.Conv2d(out_channels, 3 * taps * deform_groups, 3, 1, 1),
        )
        bound = 1.0 / math.sqrt(in_channels * taps)
        nn.init.uniform_(self.weight, -bound, bound)
        # zero residue and mask 0.5 at the start: the alignment begins as pure flow warping
        nn.init.zeros_(self.conv_offset[-1].weight)
        nn.init.zeros_(self.conv_offset[-1].bias)

    def forward(
        self,
        x: torch.Tensor,
        condition: torch.Tensor,
        flow_1: torch.Tensor,
        flow_2: torch.Tensor,
    ) -> torch.Tensor:
        """Align ``x`` (N, 2C, h, w) given the condition (N, 3C, h, w) and flows (N, 2, h, w)."""
        pred = self.conv_offset(torch.cat([condition, flow_1, flow_2], dim=1))
        per_part = self.kernel_size * self.kernel_size * self.deform_groups
        residue = self.max_residue_magnitude * torch.tanh(pred[:, : 2 * per_part])
        # deform_conv2d wants (dy, dx) pairs; flows are (dx, dy)
        reps = per_part // 2
        base = torch.cat(
            [flow_1.flip(1).repeat(1, reps, 1, 1), flow_2.flip(1).repeat(1, reps, 1, 1)], dim=1
        )
        mask = torch.sigmoid(pred[:, 2 * per_part :])
        pad = self.kernel_size // 2
        return deform_conv2d(
            x, residue + base, self.weight, self.bias, padding=(pad, pad), mask=mask
        )


class BasicVSRPlusPlusNet(nn.Module):
    """BasicVSR++ generator with same-size input and output (mosaic restoration).

    Args:
        mid_channels: feature channels (64 in the published models).
        num_blocks: residual blocks per propagation branch (15 in the published models).
        max_residue_magnitude: bound of the learned offset residue around the flow, in pixels.
        hr_skip: add a full-resolution branch (``hr_skip.0``, ``hr_skip.2``: two 3x3 convs on
            the input frame) to the upsampled features before ``conv_hr``. The published layout
            has none (False loads published weights strictly); with it the output layers see the
            block grid of a mosaic at full resolution instead of through the 1/4-size features.
    """

    def __init__(
        self,
        mid_channels: int = 64,
        num_blocks: int = 15,
        max_residue_magnitude: float = 10.0,
        hr_skip: bool = False,
    ) -> None:
        super().__init__()
        if mid_channels % 8:
            raise ValueError(f"mid_channels must be a multiple of 8, got {mid_channels}")
        self.mid_channels = mid_channels
        self.num_blocks = num_blocks
        self.spynet = SPyNet()
        self.feat_extract = nn.Sequential(
            nn.Conv2d(3, mid_channels, 3, 2, 1),
            nn.LeakyReLU(0.1, inplace=True),
            nn.Conv2d(mid_channels, mid_channels, 3, 2, 1),
            nn.LeakyReLU(0.1, inplace=True),
            ResidualStack(mid_channels, mid_channels, 5),
        )
        self.deform_align = nn.ModuleDict(
            {
                name: SecondOrderDeformableAlignment(
                    2 * mid_channels, mid_channels, 16, max_residue_magnitude
                )
                for name in BRANCHES
            }
        )
        self.backbone = nn.ModuleDict(
            {
                name: ResidualStack((2 + i) * mid_channels, mid_channels, num_blocks)
                for i, name in enumerate(BRANCHES)
            }
        )
        self.reconstruction = ResidualStack(5 * mid_channels, mid_channels, 5)
        self.upsample1 = PixelShuffleUp(mid_channels, mid_channels, 2)
        self.upsample2 = PixelShuffleUp(mid_channels, 64, 2)
        self.hr_skip = (
            nn.Sequential(
                nn.Conv2d(3, mid_channels, 3, 1, 1),
                nn.LeakyReLU(0.1, inplace=True),
                nn.Conv2d(mid_channels, 64, 3, 1, 1),
            )
            if hr_skip
            else None
        )
        self.conv_hr = nn.Conv2d(64, 64, 3, 1, 1)
        self.conv_last = nn.Conv2d(64, 3, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(0.1, inplace=True)

    # -- flow -------------------------------------------------------------------------------
    def compute_flows(
        self, small: torch.Tensor, mirrored: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Flows between neighbours of the 1/4-size clip (N, T, 3, h, w).

        Args:
            small: the 1/4-size clip.
            mirrored: the caller guarantees that every clip of the batch is mirror-extended
                (``is_mirror_extended``); the flows to the previous frame are then the
                reversed flows to the next one, and SPyNet runs once instead of twice.

        Returns:
            ``(to_prev, to_next)``, each (N, T-1, 2, h, w): ``to_prev[:, k]`` maps frame k+1 to
            frame k (used by forward branches), ``to_next[:, k]`` frame k to frame k+1 (used by
            backward branches).
        """
        n, t, c, h, w = small.shape
        if mirrored and t % 2:
            raise ValueError(f"mirrored=True needs an even number of frames, got {t}")
        if t < 2:
            empty = small.new_zeros(n, 0, 2, h, w)
            return empty, empty
        earlier = small[:, :-1].reshape(-1, c, h, w)
        later = small[:, 1:].reshape(-1, c, h, w)
        to_next = spynet_flow(self.spynet, earlier, later).view(n, t - 1, 2, h, w)
        if mirrored:
            # frame k equals frame t-1-k, so the flow k+1 -> k is the flow t-2-k -> t-1-k
            to_prev = to_next.flip(1)
        else:
            to_prev = spynet_flow(self.spynet, later, earlier).view(n, t - 1, 2, h, w)
        return to_prev, to_next

    # -- propagation -------------------------------------------------------------------------
    def _propagate(
        self,
        name: str,
        spatial: list[torch.Tensor],
        flows: torch.Tensor,
        earlier: list[list[torch.Tensor]],
    ) -> list[torch.Tensor]:
        """Run one propagation branch; returns its feature for every frame (in time order).

        Args:
            name: branch name (``backward_*`` walks from the last frame to the first).
            spatial: per-frame features from ``feat_extract``.
            flows: (N, T-1, 2, h, w) flows from each frame to the previously visited one
                (``to_next`` for backward branches, ``to_prev`` for forward ones).
            earlier: outputs of the branches that ran before this one, in branch order.
        """
        t = len(spatial)
        backward = name.startswith("backward")
        order = list(range(t - 1, -1, -1)) if backward else list(range(t))
        align, refine = self.deform_align[name], self.backbone[name]

        def flow_to_visited(idx: int) -> torch.Tensor:
            return flows[:, idx] if backward else flows[:, idx - 1]

        out: list[torch.Tensor | None] = [None] * t
        visited: list[torch.Tensor] = []
        prop = spatial[0].new_zeros(spatial[0].shape[0], self.mid_channels, *spatial[0].shape[-2:])
        for step, idx in enumerate(order):
            current = spatial[idx]
            if step > 0:
                flow_1 = flow_to_visited(idx)
                cond_1 = flow_warp(prop, flow_1)
                if step > 1:
                    feat_2 = visited[-2]
                    # compose: current -> previous -> the one before
                    flow_2 = flow_1 + flow_warp(flow_to_visited(order[step - 1]), flow_1)
                    cond_2 = flow_warp(feat_2, flow_2)
                else:
                    feat_2 = torch.zeros_like(prop)
                    flow_2 = torch.zeros_like(flow_1)
                    cond_2 = torch.zeros_like(cond_1)
                prop = align(
                    torch.cat([prop, feat_2], dim=1),
                    torch.cat([cond_1, current, cond_2], dim=1),
                    flow_1,
                    flow_2,
                )
            inputs = [current, *(branch[idx] for branch in earlier), prop]
            prop = prop + refine(torch.cat(inputs, dim=1))
            visited.append(prop)
            out[idx] = prop
        return out  # type: ignore[return-value]

    # -- forward ------------------------------------------------------------------------------
    def forward(self, lqs: torch.Tensor, mirrored: bool = False) -> torch.Tensor:
        """Restore a clip.

        Reads no tensor values on the host: the ops and shapes depend only on ``lqs.shape`` and
        ``mirrored``, so a training step can be captured in a CUDA graph.

        Args:
            lqs: degraded clip (N, T, 3, H, W), RGB in [0, 1]; any H, W >= 2.
            mirrored: every clip is mirror-extended (frame k equals frame T-1-k; decide it
                before the step, e.g. with :func:`is_mirror_extended`): the flows are computed
                once and reused reversed. False (the default) computes both directions, which
                is exact for any clip.

        Returns:
            Restored clip, same shape.
        """
        if lqs.dim() != 5 or lqs.shape[2] != 3:
            raise ValueError(f"expected a clip (N, T, 3, H, W), got {tuple(lqs.shape)}")
        n, t, c, h, w = lqs.shape
        hp, wp = -(-h // 4) * 4, -(-w // 4) * 4
        clip = reflect_pad_to(lqs, hp, wp) if (hp, wp) != (h, w) else lqs

        small = quarter_size(clip.reshape(-1, c, hp, wp)).view(n, t, c, hp // 4, wp // 4)
        feats = self.feat_extract(clip.reshape(-1, c, hp, wp))
        feats = feats.view(n, t, -1, *feats.shape[-2:])
        spatial = [feats[:, i] for i in range(t)]
        to_prev, to_next = self.compute_flows(small, mirrored)

        branches: list[list[torch.Tensor]] = []
        for name in BRANCHES:
            flows = to_next if name.startswith("backward") else to_prev
            branches.append(self._propagate(name, spatial, flows, branches))

        outputs = []
        for i in range(t):
            x = torch.cat([spatial[i], *(branch[i] for branch in branches)], dim=1)
            x = self.reconstruction(x)
            x = self.lrelu(self.upsample1(x))
            x = self.lrelu(self.upsample2(x))
            if self.hr_skip is not None:
                x = x + self.hr_skip(clip[:, i])
            x = self.lrelu(self.conv_hr(x))
            outputs.append(self.conv_last(x) + clip[:, i])
        out = torch.stack(outputs, dim=1)
        return out[..., :h, :w] if (hp, wp) != (h, w) else out
