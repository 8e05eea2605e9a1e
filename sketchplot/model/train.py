"""Training: one flat loop in the spirit of nanoGPT.

AdamW with warm-up and cosine decay, gradient clipping, dropout, validation at intervals
(best model kept), checkpoints every N steps and every few minutes, each written whole
(temporary file, then rename) so a kill never leaves half of one. Every random choice of step ``k`` (batch order,
augmentation, dropout) is seeded from (seed, k), so ``resume`` continues exactly as if the run
had never stopped. A step whose loss or gradients are not finite is skipped and counted.
Runs on CUDA, MPS or CPU; under ``torchrun`` it trains with DistributedDataParallel
(gloo on CPU, nccl on CUDA), each process taking its share of every batch.

A conditional model (``model.latent_size > 0``) trains as Sketch-RNN's VAE with the same loop:
loss = L_R + kl_weight * eta_step * max(L_KL, kl_min), eta_step = 1 - (1 - kl_eta_min) kl_decay^step;
``decoder_input_dropout`` hides decoder inputs at random, so the decoder must read z;
``own_sample_rate`` trains on the model's own drawn points, so it learns to steer back.
``init_from`` starts from another model's weights wherever names and shapes agree (class
embeddings matched by class name), e.g. a conditional cat model from the unconditional one;
with ``start_step`` it goes on with the plan of the run that saved them, where the checkpoint
is gone.
"""

from __future__ import annotations

import json
import math
import os
import time
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from sketchplot.core.atomic import atomic_open, atomic_write_text
from sketchplot.core.errors import SketchplotError
from sketchplot.model.config import SIZE_LIMITS, ModelConfig
from sketchplot.model.data import Batch, SketchSet, augment, load_sketch_set, make_batch, offset_scale
from sketchplot.model.files import QUICKDRAW_LICENCE, ModelInfo, numpy_weights, read_info, read_weights, save_model
from sketchplot.model.mixture import kl_divergence
from sketchplot.model.net import (
    SketchTransformer,
    input_keep_mask,
    kl_eta,
    own_sample_batch,
    own_sample_mask,
    reparameterise,
    sample_offsets,
    sketch_loss,
)


@dataclass
class TrainConfig:
    batch_size: int = 64
    max_steps: int = 20000
    learning_rate: float = 1e-3
    min_learning_rate: float = 1e-5
    warmup_steps: int = 500
    weight_decay: float = 0.05
    grad_clip: float = 1.0
    augment_scale: float = 0.15
    max_seq_len: int = 250
    eval_interval: int = 500
    eval_batches: int = 0  # 0: the whole validation split
    checkpoint_interval: int = 500
    checkpoint_seconds: float = 120.0  # also checkpoint when this long has passed since the last (0: never)
    log_interval: int = 50
    seed: int = 1234
    toy: int = 0  # >0: train on the first `toy` sketches of each class only (overfit check)
    balance_classes: bool = True  # class share ~ class size ** class_share_power, see batch_indices
    class_share_power: float = 0.5  # 0.5: square root; 0: every class equally
    device: str = "auto"
    save_half: bool = True
    # Conditional (VAE) models only; Sketch-RNN's values, except kl_decay, which it sets for
    # runs thirty times longer than ours (0.999 gives eta 0.64 at step 1000, 0.95 at 3000).
    kl_weight: float = 0.5
    kl_min: float = 0.2
    kl_eta_min: float = 0.01
    kl_decay: float = 0.999
    # Word dropout (Bowman et al. 2016): each decoder input point after the start token is
    # hidden with this probability in training (its offset, pen and absolute position left
    # out), so the next point must come from z rather than from the points before it; meant for
    # conditional models. 0: off. Per-dimension free bits are not offered beside kl_min: with
    # mu_norm_scale the batch spread of every dimension's mu is fixed, which gives each
    # dimension a KL floor of about scale**2 / 2 already, so no dimension can collapse.
    decoder_input_dropout: float = 0.0
    # Training on the model's own samples (parallel scheduled sampling): each decoder input
    # point is replaced with this probability by what the model, teacher-forced, would have
    # drawn there at own_sample_temperature, and the targets lead back to the true drawing
    # (net.own_sample_batch). Costs one extra forward pass per step. 0: off.
    own_sample_rate: float = 0.0
    own_sample_temperature: float = 0.5
    init_from: str = ""
    # With init_from: continue that run's plan instead of starting one. Steps, batch order and
    # the schedule set for max_steps begin here (e.g. the source model's metrics "step"); the
    # learning rate warms up again over warmup_steps, as the optimizer's moments start afresh.
    start_step: int = 0
    # False: several classes' data trained as one unlabelled set (a conditional model's latent
    # code then carries the class, so interpolation can morph a cat into a pig).
    class_labels: bool = True
    # Every sample_interval steps (0: never) draw sample_count sketches at sample_temperature,
    # spread over the classes, and log what the sketch classifier makes of them (and their FID
    # against the validation drawings). best_by = "recognizability" keeps the best model by
    # that instead of by validation loss: a lower loss does not always draw better sketches.
    sample_interval: int = 0
    sample_count: int = 200
    sample_temperature: float = 0.5
    best_by: str = "loss"
    model: ModelConfig = field(default_factory=ModelConfig)

    def __post_init__(self):
        if self.best_by not in BEST_BY:
            raise ValueError(f"best_by must be one of {', '.join(BEST_BY)}, not {self.best_by!r}")
        if self.best_by == "recognizability" and not self.sample_interval:
            raise ValueError("best_by = 'recognizability' needs sample_interval > 0")
        if self.start_step and not self.init_from:
            raise ValueError("start_step continues another run's plan: it needs init_from")
        for name, (low, high) in TRAIN_LIMITS.items():
            value = getattr(self, name)
            integer = isinstance(low, int)
            kind = (int,) if integer else (int, float)
            if (
                not isinstance(value, kind)
                or isinstance(value, bool)
                or not math.isfinite(value)
                or not low <= value <= high
            ):
                raise ValueError(
                    f"{name} must be {'an integer' if integer else 'a number'} from {low} to {high}, not {value!r}"
                )
        if self.start_step >= self.max_steps:
            raise ValueError(f"start_step {self.start_step} must be below max_steps {self.max_steps}")

    @classmethod
    def from_toml(cls, path: str | Path) -> TrainConfig:
        try:
            size = Path(path).stat().st_size
            if size > MAX_CONFIG_BYTES:
                raise SketchplotError(f"training config {path} is {size / 2**20:.1f} MiB: not a training config")
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise SketchplotError(f"cannot read training config {path}: {exc}") from None
        return cls.from_dict(raw, str(path))

    @classmethod
    def from_dict(cls, raw: dict, where: str = "config") -> TrainConfig:
        raw = dict(raw)
        model_raw = raw.pop("model", {})
        if not isinstance(model_raw, dict):
            raise SketchplotError(f"{where}: [model] must be a table of settings")
        known = {f.name for f in fields(cls)} - {"model"}
        model_known = {f.name for f in fields(ModelConfig)}
        bad = (set(raw) - known) | {f"model.{k}" for k in set(model_raw) - model_known}
        if bad:
            raise SketchplotError(f"{where}: unknown training settings: {', '.join(sorted(bad))}")
        try:
            return cls(**raw, model=ModelConfig(**model_raw))
        except (TypeError, ValueError) as exc:
            raise SketchplotError(f"{where}: {exc}") from None

    def to_dict(self) -> dict:
        return asdict(self)


MAX_CONFIG_BYTES = 1 * 2**20
# The numeric settings and their ranges: integers where the bounds are integers.
TRAIN_LIMITS = {
    "batch_size": (1, 65_536),
    "max_steps": (1, 10**9),
    "warmup_steps": (0, 10**9),
    "start_step": (0, 10**9),
    "eval_interval": (1, 10**9),
    "eval_batches": (0, 10**9),
    "checkpoint_interval": (1, 10**9),
    "log_interval": (1, 10**9),
    "seed": (0, 2**63 - 1),
    "toy": (0, 10**9),
    "max_seq_len": (1, SIZE_LIMITS["block_size"][1] - 1),
    "learning_rate": (0.0, 10.0),
    "min_learning_rate": (0.0, 10.0),
    "weight_decay": (0.0, 10.0),
    "grad_clip": (0.0, 1e9),
    "augment_scale": (0.0, 0.99),
    "class_share_power": (0.0, 10.0),
    "checkpoint_seconds": (0.0, 1e9),
    "kl_weight": (0.0, 1e6),
    "kl_min": (0.0, 1e6),
    "kl_eta_min": (0.0, 1.0),
    "kl_decay": (0.0, 1.0),
    "decoder_input_dropout": (0.0, 1.0),
    "own_sample_rate": (0.0, 1.0),
    "own_sample_temperature": (0.01, 2.0),
    "sample_interval": (0, 10**9),
    "sample_count": (1, 10_000),
    "sample_temperature": (0.01, 2.0),
}
BEST_BY = ("loss", "recognizability")
SAMPLE_REFERENCE_LIMIT = 2000  # validation drawings FID is measured against


def pick_device(name: str = "auto") -> torch.device:
    """The torch device by name; "auto" takes CUDA, then MPS, then the CPU."""
    if name != "auto":
        try:
            device = torch.device(name)
        except (RuntimeError, TypeError):
            raise SketchplotError(f"unknown device '{name}' (use auto, cpu, cuda, cuda:N or mps)") from None
        available = {
            "cuda": torch.cuda.is_available,
            "mps": lambda: bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available(),
        }
        if device.type in available and not available[device.type]():
            raise SketchplotError(f"device '{name}' is not available on this machine")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def learning_rate(step: int, cfg: TrainConfig, start_step: int = 0) -> float:
    """Cosine decay to ``min_learning_rate`` at ``max_steps``, ramped up linearly over the
    ``warmup_steps`` after ``start_step`` (0, or where a run taking up another's plan began)."""
    if step < cfg.warmup_steps:
        rate = cfg.learning_rate
    else:
        progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps))
        rate = cfg.min_learning_rate + 0.5 * (1 + math.cos(math.pi * progress)) * (
            cfg.learning_rate - cfg.min_learning_rate
        )
    since = step - start_step
    if since < cfg.warmup_steps:
        return rate * (since + 1) / cfg.warmup_steps
    return rate


def batch_indices(step: int, train: SketchSet, cfg: TrainConfig) -> np.ndarray:
    """The sketches of step ``step``: a pure function of (seed, step), which makes resume exact.

    Steps come in groups of ``BUCKET_GROUP``: one draw of that many batches, sorted by length
    and cut into batches, so each batch pads to similar lengths (about 2x faster than random
    batches). With ``balance_classes`` a class is drawn with probability proportional to its
    size to the power ``class_share_power``: the square root by default, so small classes are
    seen more often without being memorised.
    """
    rng = np.random.default_rng([cfg.seed, step // BUCKET_GROUP])
    n = cfg.batch_size * BUCKET_GROUP
    if cfg.balance_classes:
        classes = np.asarray(train.classes)
        sizes = np.bincount(classes)
        weights = sizes**cfg.class_share_power / np.maximum(sizes, 1)  # per sketch: share ~ size ** power
        p = weights[classes] / weights[classes].sum()
        drawn = rng.choice(len(train), n, p=p)
    else:
        drawn = rng.integers(0, len(train), n)
    lengths = np.array([len(train.sketches[i]) for i in drawn])
    drawn = drawn[np.argsort(lengths, kind="stable")]
    chunk = rng.permutation(BUCKET_GROUP)[step % BUCKET_GROUP]
    return drawn[chunk * cfg.batch_size : (chunk + 1) * cfg.batch_size]


BUCKET_GROUP = 8


class _Distributed:
    """Rank and world size under torchrun; a single process otherwise."""

    def __init__(self, device: torch.device):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        if self.world > 1:
            import torch.distributed as dist

            backend = "nccl" if device.type == "cuda" else "gloo"
            dist.init_process_group(backend=backend)

    @property
    def main(self) -> bool:
        return self.rank == 0

    def wrap(self, net):
        if self.world == 1:
            return net
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(net)

    def share(self, indices: np.ndarray) -> np.ndarray:
        return indices[self.rank :: self.world]

    def close(self):
        """Leave together: rank 0's last evaluation, sample check and checkpoint run after the
        others' last step, and a rank that tears its process group down while a peer is still
        at work can abort at exit."""
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()
            dist.destroy_process_group()


def batch_loss(
    model: torch.nn.Module, net: SketchTransformer, batch: Batch, cfg: TrainConfig, eta: float, use_amp: bool = False
) -> tuple[torch.Tensor, dict]:
    """(loss, terms) of one batch: L_R, and for a conditional model L_KL and the KL penalty.

    ``model`` is what runs the decoder (``net`` or its DDP wrapper); the latent noise, the
    decoder input dropout and the own-sample draws (in training mode only) come from torch's
    generator, which the caller seeds.
    """
    z = keep = None
    if net.cfg.conditional:
        mu, sigma_hat = net.encode(batch.targets, batch.mask)
        z = reparameterise(mu, sigma_hat, torch.randn_like(mu))
    if cfg.decoder_input_dropout and net.training:
        keep = input_keep_mask(torch.rand(batch.mask.shape, device=batch.mask.device), cfg.decoder_input_dropout)
    inputs, targets = batch.inputs, batch.targets
    if cfg.own_sample_rate and net.training:
        drawn = _own_guesses(net, batch, z, cfg.own_sample_temperature, use_amp)
        replaced = own_sample_mask(targets, batch.mask, cfg.own_sample_rate, keep)
        inputs, targets = own_sample_batch(inputs, targets, drawn, replaced)
    with torch.autocast(inputs.device.type, dtype=torch.bfloat16, enabled=use_amp):
        mix = model(inputs, batch.classes, z, keep)
    loss, offset, pen = sketch_loss(_float(mix), targets, batch.mask, net.cfg)
    terms = {"l_r": loss.detach(), "offset_nll": offset, "pen_loss": pen}
    if net.cfg.conditional:
        kl = kl_divergence(mu, sigma_hat).mean()
        loss = loss + cfg.kl_weight * eta * torch.clamp(kl, min=cfg.kl_min)
        terms["l_kl"] = kl.detach()
    return loss, terms


@torch.no_grad()
def _own_guesses(net: SketchTransformer, batch: Batch, z, temperature: float, use_amp: bool) -> torch.Tensor:
    """The offset the model would draw after each true input point, as sampling draws it:
    the whole sketch shown, no dropout (the local net: no gradient crosses processes)."""
    net.eval()
    try:
        with torch.autocast(batch.inputs.device.type, dtype=torch.bfloat16, enabled=use_amp):
            guide = net(batch.inputs, batch.classes, z)
    finally:
        net.train()
    return sample_offsets(_float(guide), temperature)


@torch.no_grad()
def evaluate_loss(net, data: SketchSet, scale: float, cfg: TrainConfig, device) -> dict:
    """Mean loss terms over a split (no augmentation, no dropout; a conditional model's loss
    with the KL penalty fully annealed in and a fixed latent noise)."""
    net.eval()
    torch.manual_seed(cfg.seed)
    totals: dict[str, float] = {}
    count = 0
    order = np.arange(len(data))
    size = cfg.batch_size
    n_batches = math.ceil(len(order) / size)
    if cfg.eval_batches:
        n_batches = min(n_batches, cfg.eval_batches)
    for b in range(n_batches):
        idx = order[b * size : (b + 1) * size]
        batch = make_batch([data.sketches[i] for i in idx], _labels(data, idx, cfg), scale).to(device)
        loss, terms = batch_loss(net, net, batch, cfg, eta=1.0)
        for name, value in {"loss": loss, **terms}.items():
            totals[name] = totals.get(name, 0.0) + value.item() * len(idx)
        count += len(idx)
    net.train()
    return {name: total / max(count, 1) for name, total in totals.items()}  # plain floats: weights_only checkpoints


def train(
    class_names: list[str],
    data_paths: list[Path],
    out_dir: str | Path,
    cfg: TrainConfig,
    resume: bool = False,
    progress: bool = True,
) -> dict:
    """Train a model for ``class_names`` (one data file each); returns the final metrics."""
    out_dir = Path(out_dir)
    device = pick_device(cfg.device)
    dist = _Distributed(device)
    limit = cfg.toy or None
    train_set = load_sketch_set(data_paths, "train", cfg.max_seq_len, limit)
    valid_set = train_set if cfg.toy else load_sketch_set(data_paths, "valid", cfg.max_seq_len)
    if not len(train_set):
        raise SketchplotError(f"no training sketches of at most {cfg.max_seq_len} points")
    scale = offset_scale(train_set.sketches)
    cfg.model.n_classes = len(class_names) if cfg.class_labels else 1
    cfg.model.block_size = cfg.max_seq_len + 1
    try:
        cfg.model.validate()
    except ValueError as exc:
        raise SketchplotError(f"model config: {exc}") from None
    checkpoint = out_dir / "checkpoint.pt"
    if resume and not checkpoint.is_file():
        raise SketchplotError(f"--resume: no checkpoint in {out_dir} to resume from; train without --resume")

    torch.manual_seed(cfg.seed)
    net = SketchTransformer(cfg.model)
    if cfg.init_from and not resume:
        _init_from(net, cfg.init_from, class_names)
    net = net.to(device)
    decay = [p for n, p in net.named_parameters() if p.dim() >= 2 and "embed" not in n]
    no_decay = [p for n, p in net.named_parameters() if p.dim() < 2 or "embed" in n]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.learning_rate,
        betas=(0.9, 0.99),
    )
    # start_step is kept in the checkpoint: a resumed run keeps its schedule
    state = {
        "step": cfg.start_step,
        "start_step": cfg.start_step,
        "skipped": 0,
        "best_valid": float("inf"),
        "best_sample": -1.0,
        "seconds": 0.0,
    }
    if resume:
        state = _resume(checkpoint, net, optimizer, device)
        state.setdefault("best_sample", -1.0)
        state.setdefault("start_step", 0)
    model = dist.wrap(net)
    use_amp = device.type == "cuda"
    info = ModelInfo(
        model=cfg.model,
        scale=scale,
        classes=list(class_names),
        max_seq_len=cfg.max_seq_len,
        data={
            "files": [Path(p).name for p in data_paths],
            "train_sketches": len(train_set),
            "valid_sketches": len(valid_set),
            "train_points": train_set.point_count(),
            "licence": QUICKDRAW_LICENCE,
        },
    )
    log_path = out_dir / "log.jsonl"
    if dist.main:
        atomic_write_text(out_dir / "train_config.json", json.dumps(cfg.to_dict(), indent=2) + "\n")
        _keep_log_until(log_path, state["step"] if resume else -1)
    checkpointed = time.monotonic()

    def save_checkpoint():
        nonlocal checkpointed
        with atomic_open(checkpoint, "wb") as handle:
            torch.save({"model": net.state_dict(), "optimizer": optimizer.state_dict(), "state": state}, handle)
        checkpointed = time.monotonic()

    def log(record: dict):
        with log_path.open("a") as f:
            f.write(json.dumps(record) + "\n")

    bar = None
    if progress and dist.main:
        import click

        bar = click.progressbar(
            length=cfg.max_steps - state["step"], label="training", show_eta=True, item_show_func=lambda s: s
        )
        bar.__enter__()
    model.train()
    started = time.time() - state["seconds"]
    while state["step"] < cfg.max_steps:
        step = state["step"]
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, cfg, state["start_step"])
        rng = np.random.default_rng([cfg.seed, step, 1])
        idx = dist.share(batch_indices(step, train_set, cfg))
        sketches = [augment(train_set.sketches[i], rng, cfg.augment_scale) for i in idx]
        batch = make_batch(sketches, _labels(train_set, idx, cfg), scale).to(device)
        torch.manual_seed(cfg.seed * 1_000_003 + step * 7 + dist.rank)
        eta = kl_eta(step, cfg.kl_eta_min, cfg.kl_decay)
        loss, terms = batch_loss(model, net, batch, cfg, eta, use_amp)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
        if torch.isfinite(loss) and torch.isfinite(grad_norm):
            optimizer.step()
        else:
            state["skipped"] += 1
        state["step"] = step + 1
        state["seconds"] = time.time() - started
        if not dist.main:
            continue
        if bar is not None:
            bar.current_item = f"loss {loss.item():.3f}"
            bar.update(1)
        if state["step"] % cfg.log_interval == 0:
            record = {"step": state["step"], "loss": loss.item(), **{k: v.item() for k, v in terms.items()}}
            if cfg.model.conditional:
                record["kl_eta"] = eta
            log(
                record
                | {
                    "lr": group["lr"],
                    "grad_norm": float(grad_norm),
                    "skipped": state["skipped"],
                    "seconds": round(state["seconds"], 1),
                }
            )
        last = state["step"] == cfg.max_steps
        if state["step"] % cfg.eval_interval == 0 or last:
            valid = evaluate_loss(net, valid_set, scale, cfg, device)
            log({"step": state["step"], "valid": valid})
            if valid["loss"] < state["best_valid"]:
                state["best_valid"] = valid["loss"]
                if cfg.best_by == "loss":
                    info.metrics = {f"valid_{name}": value for name, value in valid.items()} | {
                        "step": state["step"],
                        "train_seconds": round(state["seconds"], 1),
                        "device": str(device),
                    }
                    save_model(out_dir / "best", net, info, half=cfg.save_half)
        if cfg.sample_interval and (state["step"] % cfg.sample_interval == 0 or last):
            quality = _sample_quality(net, info, valid_set, cfg)
            log({"step": state["step"], **quality})
            net.train()
            if cfg.best_by == "recognizability" and quality["sample_recognizability"] > state["best_sample"]:
                state["best_sample"] = quality["sample_recognizability"]
                info.metrics = quality | {
                    "step": state["step"],
                    "train_seconds": round(state["seconds"], 1),
                    "device": str(device),
                }
                save_model(out_dir / "best", net, info, half=cfg.save_half)
        overdue = cfg.checkpoint_seconds and time.monotonic() - checkpointed >= cfg.checkpoint_seconds
        if state["step"] % cfg.checkpoint_interval == 0 or last or overdue:
            save_checkpoint()
    if bar is not None:
        bar.__exit__(None, None, None)
    del model  # DDP's reducer holds the process group: release it before the group goes
    dist.close()
    return {"steps": state["step"], "skipped": state["skipped"], "best_valid": state["best_valid"]}


def _sample_quality(net: SketchTransformer, info: ModelInfo, valid_set: SketchSet, cfg: TrainConfig) -> dict:
    """What the sketch classifier makes of the current model's samples (numpy inference of
    the current weights, exactly as `sketchplot sample` would draw them)."""
    from sketchplot.model.decoders import TransformerDecoder
    from sketchplot.model.scoring import sample_quality

    net.eval()
    decoder = TransformerDecoder(cfg.model, numpy_weights(net))
    chosen = np.random.default_rng([cfg.seed, 2]).permutation(len(valid_set))[:SAMPLE_REFERENCE_LIMIT]
    reference = [valid_set.sketches[i] for i in chosen]
    return sample_quality(
        decoder,
        info.classes,
        scale=info.scale,
        count=cfg.sample_count,
        temperature=cfg.sample_temperature,
        max_len=cfg.max_seq_len,
        labelled=cfg.class_labels,
        reference=reference,
    )


def _labels(data: SketchSet, idx, cfg: TrainConfig) -> list[int]:
    """The class index each sketch is trained with: its file's, or 0 without class labels
    (the file index still balances the classes in ``batch_indices``)."""
    return [data.classes[i] if cfg.class_labels else 0 for i in idx]


def _init_from(net: SketchTransformer, model_path: str, class_names: list[str]) -> None:
    """Copy every weight of another model whose name and shape agree; class embeddings row by
    class name (a class the other model lacks keeps its fresh embedding; an unlabelled model's
    single row comes from its first class the other model knows)."""
    other = read_info(model_path)
    weights = read_weights(model_path, other.model)
    own = net.state_dict()
    copied = {
        name: torch.from_numpy(value)
        for name, value in weights.items()
        if name in own and own[name].shape == value.shape and name != "class_embed.weight"
    }
    rows = own["class_embed.weight"].clone()
    filled = set()
    for index, name in enumerate(class_names):
        row = index if net.cfg.n_classes == len(class_names) else 0  # an unlabelled model has one row
        if name in other.classes and row not in filled:
            other_row = other.classes.index(name) if other.model.n_classes == len(other.classes) else 0
            rows[row] = torch.from_numpy(weights["class_embed.weight"][other_row])
            filled.add(row)
    copied["class_embed.weight"] = rows
    if len(copied) == 1:
        raise SketchplotError(f"init_from {model_path}: no weight matches this model's architecture")
    # Inputs the other model lacks start with no effect, so its decoder works as before (latent
    # tokens excepted: they change every step's attention whatever their weights).
    for name in ("latent_embed.weight", "position_embed.weight"):
        if name in own and name not in copied:
            copied[name] = torch.zeros_like(own[name])
    net.load_state_dict(copied, strict=False)


def _resume(checkpoint: Path, net, optimizer, device) -> dict:
    """Load a checkpoint into the model and optimizer; its training state, or a one-line
    error for a checkpoint that is unreadable or of another architecture."""
    try:
        saved = _load_checkpoint(checkpoint, device)
        net.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        return saved["state"]
    except Exception as exc:  # noqa: BLE001 - torch reports a bad file as many exception types
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SketchplotError(f"cannot resume from {checkpoint}: {reason}") from None


def _keep_log_until(log_path: Path, step: int) -> None:
    """Drop the log records after ``step`` (-1 for a fresh run: all of them): a resumed run logs
    the steps after its checkpoint again, and each step must appear once. A half-written last
    line from a kill is dropped too."""
    if not log_path.is_file():
        return
    kept = []
    for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and isinstance(record.get("step"), int) and record["step"] <= step:
            kept.append(line + "\n")
    atomic_write_text(log_path, "".join(kept))


def _load_checkpoint(path: Path, device) -> dict:
    """Load without unpickling code; numpy float scalars are allowed because checkpoints
    written before evaluate_loss returned plain floats hold one in ``best_valid``."""
    allowed = [np._core.multiarray.scalar, np.dtype, type(np.dtype(np.float64))]
    with torch.serialization.safe_globals(allowed):
        return torch.load(path, map_location=device, weights_only=True)


def _float(mix):
    """Mixture parameters in float32 for the loss, whatever autocast computed them in."""
    from dataclasses import replace

    return replace(
        mix, **{f.name: getattr(mix, f.name).float() for f in fields(mix) if getattr(mix, f.name) is not None}
    )
