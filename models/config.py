"""Configurations of the reference MAGE (paper section 3; sizes of the authors' release, as recorded in
``templates/presets/train-<dataset>.yaml``) and the training presets.

Three dataclasses hold everything a model needs to be rebuilt: :class:`VQVAEConfig` (Sec. 3.2, Eq. 1),
:class:`MAGEConfig` (Sec. 3.3, Eqs. 2-7) and :class:`TrainConfig` (Sec. 4.2). Presets live in
``templates/presets/train-<dataset>.yaml`` and are read with ``yaml.safe_load``; command-line overrides are
``section.key=value`` strings (``mage.d_model=128``, ``mage_train.lr=1e-4``) whose values are parsed as YAML.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable, Mapping

from ti2v.datagen.errors import safe_yaml as _safe_yaml  # one YAML reader for every preset

DATASETS = ("mnist-single", "mnist-double", "mnist-modified", "cater-gen-v1", "cater-gen-v2")
PRESET_DIR = Path(__file__).resolve().parent.parent / "templates" / "presets"


@dataclass
class VQVAEConfig:
    """VQ-VAE of Sec. 3.2 (Eq. 1): codebook K x D = 512 x 256, 16x16 tokens per frame."""

    in_channels: int = 1
    resolution: int = 64
    downsample: int = 4  # 4 for 64x64 MNIST, 8 for 128x128 CATER -> 16x16 tokens
    codebook_size: int = 512
    code_dim: int = 256
    channels: tuple[int, ...] = (64, 128)  # width at full resolution, then after each downsampling step
    res_blocks: int = 2  # residual blocks at the token resolution (encoder and decoder)
    beta: float = 0.25  # commitment weight of Eq. 1
    ema_decay: float = 0.99  # codebook term of Eq. 1 optimised by EMA updates
    restart_after: int = 20  # a code unused for this many steps is dead and restarted on an encoder output
    kmeans_init: bool = True  # initialise the codebook from the first batch of encoder outputs

    @property
    def tokens(self) -> int:
        return self.resolution // self.downsample

    def __post_init__(self) -> None:
        self.channels = tuple(int(c) for c in self.channels)
        levels = self.downsample.bit_length() - 1
        if 2**levels != self.downsample:
            raise ValueError(f"downsample={self.downsample} is not a power of two")
        if len(self.channels) < 1:
            raise ValueError("channels must name at least one width")


@dataclass
class MAGEConfig:
    """The generator of Sec. 3.3: text encoder, motion anchor (Eq. 2), speed (Eq. 3), randomness (Eqs. 4-5),
    axial transformer (Eq. 6), loss (Eq. 7)."""

    vocab_size: int = 64
    codebook_size: int = 512
    tokens_h: int = 16
    tokens_w: int = 16
    frames: int = 10  # T: first frame + 9 generated
    d_model: int = 512
    heads: int = 16
    ff_dim: int = 2048
    dropout: float = 0.1
    text_layers: int = 2
    max_text_len: int = 64
    # Axial blocks, each attending along ONE axis, cycling axial_order. The release stacks 6 (T, H, W, T, H, W),
    # which is exactly the paper's "two axial transformer blocks" of three-dimensional axial attention.
    axial_blocks: int = 6
    axial_order: str = "thw"
    stochastic: bool = False  # False: deterministic mode (no randomness module psi)
    r_dim: int = 64  # size of the implicit randomness r (Eq. 4)
    psi_channels: int = 64  # width of the 3D conv blocks of psi
    alpha: float = 1e-3  # weight of ||c||^2 in Eq. 7
    beta: float = 2.5e-4  # weight of KL(q||p) in Eq. 7
    speed_interval: tuple[float, float] = (1.0, 2.0)  # informative only: eta -> sampling interval (docs/DATASETS.md, Speed)

    def __post_init__(self) -> None:
        self.speed_interval = tuple(float(v) for v in self.speed_interval)
        if self.d_model % self.heads:
            raise ValueError(f"d_model={self.d_model} is not divisible by heads={self.heads}")
        if not self.axial_order or set(self.axial_order) - set("thw"):
            raise ValueError(f"axial_order={self.axial_order!r} must be made of 't', 'h', 'w'")


@dataclass
class TrainConfig:
    """Optimisation settings of Sec. 4.2 (batch 32, lr 5e-5; release: Adam betas (0.9, 0.98), eps 1e-6, cosine)."""

    batch_size: int = 32
    lr: float = 5e-5
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-6
    weight_decay: float = 0.0
    schedule: str = "cosine"  # cosine | constant
    warmup_steps: int = 500
    steps: int = 100_000
    grad_clip: float = 1.0
    num_workers: int = 2
    log_every: int = 20
    ckpt_every: int = 1000
    sample_every: int = 2000
    eval_every: int = 0  # 0 = only at the end
    eval_clips: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        self.betas = tuple(float(b) for b in self.betas)


@dataclass
class MotionI2VConfig:
    """The Motion-I2V-style baseline (``models/motion_i2v``): stage 1 predicts the motion field from frame 1 to
    frames 2..T by flow matching, stage 2 warps frame 1 along it and refines. Text-encoder fields have the same
    names as :class:`MAGEConfig`'s, so both models build the shared ``TextEncoder`` from their own config."""

    in_channels: int = 1
    resolution: int = 64
    frames: int = 10  # T: first frame + 9 generated
    vocab_size: int = 64
    max_text_len: int = 64
    d_model: int = 128  # width of the text encoder and of the field transformer
    heads: int = 4
    ff_dim: int = 256
    dropout: float = 0.0
    text_layers: int = 2
    field_down: int = 2  # the field is predicted at resolution / field_down (upsampled for splatting)
    patch: int = 2  # field transformer tokens are patch x patch cells of the field
    blocks: int = 4  # field transformer blocks (self-attention, cross-attention to the text, MLP)
    sample_steps: int = 8  # Euler steps of the flow-matching sampler
    object_weight: float = 10.0  # L_field weight of frame-1 object cells is 1 + object_weight
    renderer_width: int = 16  # stage-2 refiner width at full resolution (x2, x4 below)
    renderer_layers: int = 1  # temporal attention layers of the refiner
    hint_prob: float = 0.5  # training: share of clips given sparse trajectory hints from the true tracks
    max_hint_points: int = 3
    hint_jitter: float = 0.06  # hint points placed within this share of the frame size around object centres
    hint_over_text: float = 0.3  # share of hinted clips trained with another clip's caption (trajectories win)
    region_prob: float = 0.25  # training: share of clips given the motion-brush region (moving objects' pixels)
    predicted_from: float = 0.7  # share of training after which half of each batch renders predicted fields

    def __post_init__(self) -> None:
        if self.d_model % self.heads:
            raise ValueError(f"d_model={self.d_model} is not divisible by heads={self.heads}")
        if self.resolution % (self.field_down * self.patch):
            raise ValueError(f"resolution={self.resolution} is not divisible by field_down x patch "
                             f"({self.field_down} x {self.patch})")
        if self.frames < 2:
            raise ValueError(f"frames={self.frames}: at least the first frame and one generated frame")
        for name in ("hint_prob", "region_prob", "predicted_from", "hint_over_text"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name}={getattr(self, name)} is outside [0, 1]")

    @property
    def field_resolution(self) -> int:
        return self.resolution // self.field_down

    @property
    def field_scale(self) -> float:
        """Pixels per unit of the normalised field the diffusion runs on."""
        return self.resolution / 4


@dataclass
class MMVIDConfig:
    """The MMVID-style baseline (``models/mmvid``): one bidirectional transformer over [text, control, video]
    tokens of the shared VQ-VAE, trained by masked-token prediction, sampled by mask-predict. Text-encoder and
    axial-block fields have the same names as :class:`MAGEConfig`'s, so the shared ``TextEncoder`` and
    ``AxialBlock`` build from it."""

    vocab_size: int = 64
    codebook_size: int = 512
    tokens_h: int = 16
    tokens_w: int = 16
    frames: int = 10  # T: first frame (the control tokens) + 9 generated
    d_model: int = 128
    heads: int = 4
    ff_dim: int = 512
    dropout: float = 0.1
    text_layers: int = 2
    max_text_len: int = 64
    axial_blocks: int = 6  # attention along one axis each, cycling axial_order (time attention bidirectional)
    axial_order: str = "thw"
    joint_every: int = 3  # a joint block (video <-> text / condition tokens) after every joint_every axial blocks
    partial_prob: float = 0.1  # share of training clips whose frame 1 is partly masked ("partial image" control)
    rel_weight: float = 0.1  # weight of the relevance head's loss (does the caption describe the video)
    cons_weight: float = 0.1  # weight of the video-consistency head's loss (is the video one real clip)
    sample_steps: int = 12  # mask-predict iterations
    temperature: float = 1.0  # sampling temperature of mask-predict; 0 = greedy
    candidates: int = 2  # videos drawn per sample and ranked by the relevance and consistency heads
    causal_time: bool = False  # bidirectional: fixed for this model (read by the shared AxialBlock)

    def __post_init__(self) -> None:
        if self.d_model % self.heads:
            raise ValueError(f"d_model={self.d_model} is not divisible by heads={self.heads}")
        if not self.axial_order or set(self.axial_order) - set("thw"):
            raise ValueError(f"axial_order={self.axial_order!r} must be made of 't', 'h', 'w'")
        if self.causal_time:
            raise ValueError("causal_time=True: the MMVID-style transformer is bidirectional")
        for name in ("sample_steps", "candidates", "joint_every", "axial_blocks"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be >= 1")
        if not 0.0 <= self.partial_prob <= 1.0:
            raise ValueError(f"partial_prob={self.partial_prob} is outside [0, 1]")
        if self.temperature < 0:
            raise ValueError(f"temperature={self.temperature} must be >= 0 (0 = greedy)")


SECTIONS = {"vqvae": VQVAEConfig, "mage": MAGEConfig, "vqvae_train": TrainConfig, "mage_train": TrainConfig,
            "motion_i2v": MotionI2VConfig, "motion_i2v_train": TrainConfig, "mmvid": MMVIDConfig,
            "mmvid_train": TrainConfig}


def to_dict(cfg: Any) -> dict[str, Any]:
    """JSON-safe dict of a config dataclass (tuples become lists)."""
    out = asdict(cfg)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


def from_dict(cls: type, data: Mapping[str, Any], section: str | None = None) -> Any:
    """Build ``cls`` from a mapping, refusing unknown keys (a typo in a preset must not pass silently) and values
    of the wrong type or range (``ValueError`` naming ``section.key=value`` and what is allowed)."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{section or cls.__name__}={data!r} is not allowed; it must be a mapping of key: value")
    names = {f.name for f in fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys: {sorted(unknown)}; known: {sorted(names)}")
    hints = typing.get_type_hints(cls)
    data = {k: _float_text(v) if hints.get(k) is float else v for k, v in data.items()}
    for key, value in data.items():
        problem = _value_problem(key, hints[key], value)
        if problem:
            raise ValueError(f"{section or cls.__name__}.{key}={value!r} is not allowed; it must be {problem}")
    try:
        return cls(**dict(data))
    except (ValueError, TypeError, ZeroDivisionError) as e:
        raise ValueError(f"{section or cls.__name__}: {e}") from None


_EXPONENT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def _float_text(value: Any) -> Any:
    """``5e-4`` as the number it means: YAML 1.1 (PyYAML) reads an exponent without a decimal point as text, so
    ``--set mage_train.lr=5e-4`` would otherwise be refused as "not a number"."""
    if isinstance(value, str) and _EXPONENT.fullmatch(value.strip()):
        return float(value)
    return value


# fields that count something (sizes, widths, steps): 0 would break the model or the loop
_POSITIVE = {"in_channels", "resolution", "downsample", "codebook_size", "code_dim", "channels", "vocab_size",
             "tokens_h", "tokens_w", "frames", "d_model", "heads", "ff_dim", "max_text_len", "axial_blocks", "r_dim",
             "psi_channels", "batch_size", "steps", "eps", "lr", "field_down", "patch", "blocks", "sample_steps",
             "renderer_width", "log_every", "candidates", "joint_every", "speed_interval"}
_UNIT = {"dropout", "ema_decay", "hint_prob", "region_prob", "predicted_from", "hint_over_text", "partial_prob"}
_CHOICES = {"schedule": ("cosine", "constant")}


def _value_problem(key: str, hint: Any, value: Any) -> str | None:
    """What ``value`` must be for a field of type ``hint`` (None when it is fine)."""
    def number(v, kind) -> str | None:
        ok = isinstance(v, int) and not isinstance(v, bool) if kind is int else \
            isinstance(v, (int, float)) and not isinstance(v, bool)
        what = "an integer" if kind is int else "a number"
        if not ok:
            return what + (" >= 1" if key in _POSITIVE else " >= 0")
        if key in _UNIT and not 0 <= v <= 1:
            return f"{what} in [0, 1]"
        if key in _POSITIVE and not v > 0:
            return what + (" >= 1" if kind is int else " > 0")
        if v < 0 or v != v:
            return what + " >= 0"
        return None

    if hint is bool:
        return None if isinstance(value, bool) else "true or false"
    if hint in (int, float):
        return number(value, hint)
    if hint is str:
        if not isinstance(value, str):
            return "a string" + (f": one of {', '.join(_CHOICES[key])}" if key in _CHOICES else "")
        if key in _CHOICES and value not in _CHOICES[key]:
            return f"one of {', '.join(_CHOICES[key])}"
        return None
    if typing.get_origin(hint) is tuple:
        args = typing.get_args(hint)
        kind = args[0] if args else float
        if not isinstance(value, (list, tuple)) or not value:
            return f"a list of {'integers' if kind is int else 'numbers'}"
        if len(args) > 1 and args[1] is not Ellipsis and len(value) != len(args):
            return f"a list of {len(args)} {'integers' if kind is int else 'numbers'}"
        for v in value:
            p = number(v, kind)
            if p:
                return f"a list of {p.replace('an integer', 'integers').replace('a number', 'numbers')}"
    return None


def preset_path(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") and p.exists():
        return p
    name = str(name_or_path)
    if name.startswith("train-"):
        name = name[len("train-"):]
    cand = PRESET_DIR / f"train-{name}.yaml"
    if not cand.exists():
        have = sorted(q.stem[len("train-"):] for q in PRESET_DIR.glob("train-*.yaml"))
        raise FileNotFoundError(f"no training preset {name_or_path!r} (looked for {cand}); available: {have}")
    return cand


def load_preset(name_or_path: str | Path | None, overrides: Iterable[str] = ()) -> dict[str, Any]:
    """Preset as {'dataset', 'data', 'vqvae', 'mage', 'vqvae_train', 'mage_train', 'motion_i2v',
    'motion_i2v_train'} with overrides applied.

    Sections are returned as config dataclasses (``data`` stays a dict)."""
    raw: dict[str, Any] = {}
    if name_or_path is not None:
        path = preset_path(name_or_path)
        with open(path, encoding="utf-8") as fh:
            raw = _safe_yaml(fh, f"preset {path}") or {}
        if not isinstance(raw, Mapping):
            raise ValueError(f"preset {path} holds a {type(raw).__name__}; it must be a mapping of sections "
                             f"({', '.join(['dataset', 'data', *SECTIONS])})")
    raw = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in raw.items()}
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"override {item!r} is not section.key=value")
        key, value = item.split("=", 1)
        parts = key.strip().split(".")
        if len(parts) != 2 or not all(parts):
            raise ValueError(f"override {item!r} is not section.key=value (sections: {', '.join(['data', *SECTIONS])})")
        target = raw.setdefault(parts[0], {})
        if not isinstance(target, dict):
            raise ValueError(f"override {item!r}: preset value {parts[0]}={target!r} is not a section")
        target[parts[1]] = _safe_yaml(value, f"override {item!r}")
    if not isinstance(raw.get("data", {}), Mapping):
        raise ValueError(f"data={raw['data']!r} is not allowed; it must be a mapping of key: value")
    out: dict[str, Any] = {"dataset": raw.get("dataset"), "data": dict(raw.get("data") or {})}
    for section, cls in SECTIONS.items():
        out[section] = from_dict(cls, raw.get(section) or {}, section)
    extra = set(raw) - set(out)
    if extra:
        raise ValueError(f"unknown preset sections: {sorted(extra)}")
    return out


def replace(cfg: Any, **changes: Any) -> Any:
    return dataclasses.replace(cfg, **changes)


__all__ = [
    "DATASETS",
    "VQVAEConfig",
    "MAGEConfig",
    "MotionI2VConfig",
    "MMVIDConfig",
    "TrainConfig",
    "load_preset",
    "preset_path",
    "to_dict",
    "from_dict",
    "replace",
    "field",
]
