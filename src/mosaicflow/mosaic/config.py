"""Typed config of the `mosaic:` section of ``config/schema.yaml`` (synthesis + degradations).

Fields match the schema keys one to one; defaults live only in the schema. Build with
``mosaicflow.config.build(MosaicConfig, config["mosaic"])``. ``__post_init__`` checks what JSON
schema cannot express (ranges ordered, probabilities summing to at most one).
"""

from __future__ import annotations

from dataclasses import dataclass

from mosaicflow.config import ConfigError

BLOCK_SIZE_METHODS = ("area", "area_sigmoid", "coverage", "long_side")
SHAPES = ("squa_mid", "squa_avg", "rect_avg")
CODECS = ("x264", "x265", "vp9", "mpeg2")


def _check_range(name: str, value: tuple[float, float], low: float | None = None) -> None:
    if len(value) != 2 or value[0] > value[1]:
        raise ConfigError(f"config key 'mosaic.{name}': expected [low, high] with low <= high")
    if low is not None and value[0] < low:
        raise ConfigError(f"config key 'mosaic.{name}': values must be >= {low}")


def _check_p(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"config key 'mosaic.{name}': probability {value} not in [0, 1]")


@dataclass(frozen=True)
class SigmoidJitterConfig:
    """Random offset added to the sigmoid block size (narrow most of the time, wide sometimes)."""

    narrow: float
    wide: float
    p_wide: float

    def __post_init__(self) -> None:
        _check_p("sigmoid_jitter.p_wide", self.p_wide)


@dataclass(frozen=True)
class ShapesConfig:
    """Probability of each block shape (normalised to sum one)."""

    squa_mid: float
    squa_avg: float
    rect_avg: float

    def __post_init__(self) -> None:
        if min(self.squa_mid, self.squa_avg, self.rect_avg) < 0 or (
            self.squa_mid + self.squa_avg + self.rect_avg <= 0
        ):
            raise ConfigError(
                "config key 'mosaic.shapes': weights must be >= 0 with a positive sum"
            )

    def probabilities(self) -> tuple[float, ...]:
        """Normalised probabilities in the order of ``SHAPES``."""
        weights = (self.squa_mid, self.squa_avg, self.rect_avg)
        total = sum(weights)
        return tuple(w / total for w in weights)


@dataclass(frozen=True)
class FeatherConfig:
    """Soft mosaic edge: box blur of the extended mask used as blending weight."""

    p: float
    width: tuple[float, float]

    def __post_init__(self) -> None:
        _check_p("feather.p", self.p)
        _check_range("feather.width", self.width, 0.0)


@dataclass(frozen=True)
class MaskExtensionConfig:
    """Random growth of the region mask before it is pixelated (drawn once per clip)."""

    dilate_p: float
    dilate_radius: tuple[float, float]
    close_p: float
    close_radius: tuple[float, float]

    def __post_init__(self) -> None:
        _check_p("mask_extension.dilate_p", self.dilate_p)
        _check_p("mask_extension.close_p", self.close_p)
        _check_range("mask_extension.dilate_radius", self.dilate_radius, 0.0)
        _check_range("mask_extension.close_radius", self.close_radius, 0.0)


@dataclass(frozen=True)
class CrfCodecConfig:
    """A codec driven by a constant rate factor (x264, x265)."""

    p: float
    crf: tuple[int, int]

    def __post_init__(self) -> None:
        _check_p("degradations.<codec>.p", self.p)
        _check_range("degradations.<codec>.crf", self.crf, 0)


@dataclass(frozen=True)
class BitrateCodecConfig:
    """A codec driven by a target bitrate, in bits per pixel per frame (VP9, MPEG-2)."""

    p: float
    bpp: tuple[float, float]

    def __post_init__(self) -> None:
        _check_p("degradations.<codec>.p", self.p)
        _check_range("degradations.<codec>.bpp", self.bpp, 0.0)


@dataclass(frozen=True)
class BlurConfig:
    """Gaussian blur with a random sigma."""

    p: float
    sigma: tuple[float, float]

    def __post_init__(self) -> None:
        _check_p("degradations.blur.p", self.p)
        _check_range("degradations.blur.sigma", self.sigma, 0.0)


@dataclass(frozen=True)
class NoiseConfig:
    """Additive Gaussian noise, sigma in 8-bit grey levels."""

    p: float
    sigma: tuple[float, float]

    def __post_init__(self) -> None:
        _check_p("degradations.noise.p", self.p)
        _check_range("degradations.noise.sigma", self.sigma, 0.0)


@dataclass(frozen=True)
class JpegConfig:
    """JPEG round trip with a random quality."""

    p: float
    quality: tuple[int, int]

    def __post_init__(self) -> None:
        _check_p("degradations.jpeg.p", self.p)
        _check_range("degradations.jpeg.quality", self.quality, 1)


KERNELS = (
    "iso",
    "aniso",
    "generalized_iso",
    "generalized_aniso",
    "plateau_iso",
    "plateau_aniso",
)
INTERPOLATIONS = ("area", "bilinear", "bicubic")


@dataclass(frozen=True)
class KernelMixConfig:
    """Weights of the blur kernel families (normalised to sum one)."""

    iso: float
    aniso: float
    generalized_iso: float
    generalized_aniso: float
    plateau_iso: float
    plateau_aniso: float

    def weights(self) -> tuple[float, ...]:
        """The weights in the order of ``KERNELS``."""
        return tuple(float(getattr(self, k)) for k in KERNELS)


@dataclass(frozen=True)
class KernelBlurConfig:
    """One pass's blur: a kernel of a random family, size and shape, or a sinc filter."""

    p: float
    size: tuple[int, int]
    kernels: KernelMixConfig
    sigma: tuple[float, float]
    beta_generalized: tuple[float, float]
    beta_plateau: tuple[float, float]
    sinc_p: float

    def check(self, name: str) -> None:
        """Raise a ConfigError naming ``name`` (the blur's key) for a value out of range."""
        _check_p(f"{name}.p", self.p)
        _check_p(f"{name}.sinc_p", self.sinc_p)
        _check_range(f"{name}.size", self.size, 3)
        if not any(k % 2 for k in range(self.size[0], self.size[1] + 1)):
            raise ConfigError(f"config key 'mosaic.{name}.size': the range holds no odd size")
        _check_range(f"{name}.sigma", self.sigma, 0.01)
        _check_range(f"{name}.beta_generalized", self.beta_generalized, 0.01)
        _check_range(f"{name}.beta_plateau", self.beta_plateau, 0.01)
        weights = self.kernels.weights()
        if min(weights) < 0 or sum(weights) <= 0:
            raise ConfigError(
                f"config key 'mosaic.{name}.kernels': weights must be >= 0 with a positive sum"
            )


@dataclass(frozen=True)
class ResizeStepConfig:
    """One pass's resize relative to the input size: up, down or kept, with a random filter."""

    p: float
    up: float
    down: float
    keep: float
    scale: tuple[float, float]

    def check(self, name: str) -> None:
        """Raise a ConfigError naming ``name`` (the resize's key) for a value out of range."""
        _check_p(f"{name}.p", self.p)
        _check_range(f"{name}.scale", self.scale, 0.05)
        if not self.scale[0] <= 1.0 <= self.scale[1]:
            raise ConfigError(f"config key 'mosaic.{name}.scale': must hold 1 (low <= 1 <= high)")
        if min(self.up, self.down, self.keep) < 0 or self.up + self.down + self.keep <= 0:
            raise ConfigError(
                f"config key 'mosaic.{name}': up/down/keep weights must be >= 0 with a positive sum"
            )


@dataclass(frozen=True)
class PassNoiseConfig:
    """One pass's noise: Gaussian (sigma in 8-bit levels) or Poisson (scaled), colour or grey."""

    p: float
    gaussian_p: float
    gray_p: float
    sigma: tuple[float, float]
    poisson_scale: tuple[float, float]

    def check(self, name: str) -> None:
        """Raise a ConfigError naming ``name`` (the noise's key) for a value out of range."""
        for key in ("p", "gaussian_p", "gray_p"):
            _check_p(f"{name}.{key}", getattr(self, key))
        _check_range(f"{name}.sigma", self.sigma, 0.0)
        _check_range(f"{name}.poisson_scale", self.poisson_scale, 0.0)


@dataclass(frozen=True)
class PassJpegConfig:
    """One pass's JPEG round trip with a random quality."""

    p: float
    quality: tuple[int, int]


@dataclass(frozen=True)
class DegradationPassConfig:
    """One pass of the second-order pipeline: blur, resize, noise, JPEG."""

    blur: KernelBlurConfig
    resize: ResizeStepConfig
    noise: PassNoiseConfig
    jpeg: PassJpegConfig

    def check(self, name: str) -> None:
        """Raise a ConfigError naming the key under ``name`` (the pass) that is out of range."""
        self.blur.check(f"{name}.blur")
        self.resize.check(f"{name}.resize")
        self.noise.check(f"{name}.noise")
        _check_p(f"{name}.jpeg.p", self.jpeg.p)
        _check_range(f"{name}.jpeg.quality", self.jpeg.quality, 1)


@dataclass(frozen=True)
class SecondOrderConfig:
    """The Real-ESRGAN-style pipeline: two passes, then back to size with a sinc filter."""

    p: float
    first: DegradationPassConfig
    second: DegradationPassConfig
    final_sinc_p: float

    def __post_init__(self) -> None:
        _check_p("degradations.second_order.p", self.p)
        _check_p("degradations.second_order.final_sinc_p", self.final_sinc_p)
        self.first.check("degradations.second_order.first")
        self.second.check("degradations.second_order.second")


@dataclass(frozen=True)
class DegradationsConfig:
    """Degradations applied after the mosaic: today's mix (blur, noise, JPEG) or, with
    ``second_order.p``, the second-order pipeline instead; then at most one codec round trip."""

    x264: CrfCodecConfig
    x265: CrfCodecConfig
    vp9: BitrateCodecConfig
    mpeg2: BitrateCodecConfig
    fps: int
    blur: BlurConfig
    noise: NoiseConfig
    jpeg: JpegConfig
    second_order: SecondOrderConfig

    def __post_init__(self) -> None:
        total = self.x264.p + self.x265.p + self.vp9.p + self.mpeg2.p
        if total > 1.0 + 1e-9:
            raise ConfigError(
                f"config key 'mosaic.degradations': codec probabilities sum to {total:.3f} > 1 "
                "(one codec at most is drawn per clip)"
            )
        if self.fps < 1:
            raise ConfigError("config key 'mosaic.degradations.fps': must be >= 1")


@dataclass(frozen=True)
class MosaicConfig:
    """The `mosaic:` section: block size, shape, feathering, mask extension, degradations."""

    block_size_method: str
    area_measure: str
    size_scale: tuple[float, float]
    min_block_size: int
    sigmoid_jitter: SigmoidJitterConfig
    coverage_range: tuple[float, float]
    shapes: ShapesConfig
    rect_ratio: tuple[float, float]
    feather: FeatherConfig
    mask_extension: MaskExtensionConfig
    random_grid_offset: bool
    incomplete_blocks_p: float
    block_select: str
    degradations: DegradationsConfig

    def __post_init__(self) -> None:
        if self.block_size_method not in BLOCK_SIZE_METHODS:
            raise ConfigError(
                f"config key 'mosaic.block_size_method': {self.block_size_method!r} not in "
                f"{BLOCK_SIZE_METHODS}"
            )
        if self.area_measure not in ("mask", "box"):
            raise ConfigError("config key 'mosaic.area_measure': must be 'mask' or 'box'")
        if self.block_select not in ("center", "any"):
            raise ConfigError("config key 'mosaic.block_select': must be 'center' or 'any'")
        _check_range("size_scale", self.size_scale, 0.0)
        _check_range("rect_ratio", self.rect_ratio, 1.0)
        _check_range("coverage_range", self.coverage_range, 0.0)
        _check_p("incomplete_blocks_p", self.incomplete_blocks_p)
        if self.min_block_size < 1:
            raise ConfigError("config key 'mosaic.min_block_size': must be >= 1")
