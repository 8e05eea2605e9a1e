"""The model commands that are not drawing: train, evaluate, score and the model listing.

Training is the one place that needs torch; everything else here runs on numpy alone.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from sketchplot.core.errors import SketchplotError
from sketchplot.core.formats import class_key, read_sketch_file
from sketchplot.core.paths import user_model_dir
from sketchplot.model.classifier import load_classifier
from sketchplot.model.evaluate import evaluate_file
from sketchplot.model.files import load_encoder, read_info
from sketchplot.model.registry import (
    available_models,
    class_index,
    class_table,
    find_model,
    is_labelled,
    is_magenta,
    load_any,
    shipped_model_dir,
)
from sketchplot.model.scoring import reference_warning
from sketchplot.model.scoring import score as score_sketches

TORCH_MISSING = "training needs torch, which is not installed: pip install 'sketchplot[train]'"


def train_model(
    classes: list[str],
    data_paths: list[str],
    out_dir: str | None,
    config_path: str | None,
    overrides: dict,
    resume: bool = False,
) -> tuple[dict, Path]:
    """Train a model (torch); returns the training summary and the run directory."""
    try:
        from sketchplot.model.train import TrainConfig, train
    except ImportError as exc:
        if (exc.name or "").split(".")[0] != "torch":
            raise
        raise SketchplotError(TORCH_MISSING) from None

    if len(data_paths) != len(classes):
        raise SketchplotError(f"{len(classes)} class(es) but {len(data_paths)} --data file(s): give one per class")
    cfg = TrainConfig.from_toml(config_path) if config_path else TrainConfig()
    continue_from = overrides.pop("continue_from", None)
    try:
        cfg = dataclasses.replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
    except ValueError as exc:
        raise SketchplotError(f"training settings: {exc}") from None
    out = Path(out_dir or Path("runs") / "-".join(classes))
    if continue_from:
        step = _continuation_step(continue_from, classes, cfg, out)
        cfg = dataclasses.replace(cfg, init_from=str(continue_from), start_step=step)
    return train(list(classes), [Path(p) for p in data_paths], out, cfg, resume=resume), out


def _continuation_step(model: str, classes: list[str], cfg, out: Path) -> int:
    """The step at which a run taking up MODEL's plan starts: the one MODEL was saved at. The
    run must be MODEL's own (its classes, architecture and a schedule that goes on past it)."""
    where = f"--continue-from {model}"
    info = read_info(model)
    step = info.metrics.get("step")
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise SketchplotError(f"{where}: the model does not say at which step it was saved")
    if list(info.classes) != list(classes):
        raise SketchplotError(f"{where}: the model draws other classes; give its run's classes and --data")
    mine, theirs = dataclasses.asdict(cfg.model), dataclasses.asdict(info.model)
    differ = [k for k in mine if k not in ("n_classes", "block_size") and mine[k] != theirs.get(k)]
    if differ:
        raise SketchplotError(f"{where}: its {', '.join(differ)} differ from the config's; give its run's --config")
    if step >= cfg.max_steps:
        raise SketchplotError(f"{where}: saved at step {step}, the end of a {cfg.max_steps}-step plan already")
    if Path(model).resolve() == (out / "best").resolve():
        raise SketchplotError(f"{where}: the run would overwrite it; give another --out")
    return step


def evaluate_model(
    model: str,
    data_path: str,
    *,
    split: str = "test",
    class_name: str | None = None,
    max_seq_len: int = 250,
    limit: int | None = None,
) -> dict:
    """Test-set NLL of a model on a data file, as the `eval` command prints it."""
    path = find_model(model)
    decoder, info = load_any(path)
    name = class_name or (info.classes[0] if len(info.classes) == 1 else Path(data_path).name.split(".")[0])
    index = class_index(info, name, model)
    encoder = load_encoder(path) if getattr(info.model, "conditional", False) else None
    result = evaluate_file(
        decoder,
        None if is_magenta(info) else info.scale,
        data_path,
        split=split,
        class_index=index,
        max_seq_len=min(max_seq_len, decoder.block_size - 1),
        limit=limit,
        encoder=encoder,
    )
    return {"model": model, "class": name, "data": str(data_path), "split": split, **result.to_dict()}


@dataclass(frozen=True)
class ScoreReport:
    report: dict
    warning: str | None  # about the reference drawings, when they look wrong for the class


def score_file(
    samples_path: str,
    class_name: str,
    *,
    split: str | None = None,
    reference_path: str | None = None,
    reference_split: str = "test",
    classifier_dir: str | None = None,
) -> ScoreReport:
    """Recognisability and distances of a sketch file against real drawings of the class."""
    classifier = load_classifier(classifier_dir)
    classifier.class_index(class_name)
    samples = read_sketch_file(samples_path, split)
    reference = read_sketch_file(reference_path, reference_split) if reference_path else None
    report = score_sketches(
        samples.sketches,
        class_name,
        reference.sketches if reference else None,
        cap=samples.cap,
        classifier=classifier,
        where=samples_path,
    )
    warning = reference_warning(reference, report, classifier) if reference else None
    return ScoreReport(report, warning)


def model_lines() -> list[str]:
    """One line per installed model (name, origin, classes, test NLL, what it serves), then
    where models are found."""
    lines = []
    for entry in available_models():
        if entry.error:
            lines.append(f"{entry.name:<16} {entry.origin:<8} UNREADABLE: {entry.error}")
            continue
        nll = entry.info.metrics.get("test_nll")
        if isinstance(nll, dict) and nll and all(isinstance(v, (int, float)) for v in nll.values()):  # per class
            nll = sum(nll.values()) / len(nll)
        extra = f"  test NLL {nll:.3f}" if isinstance(nll, (int, float)) else ""
        if getattr(entry.info.model, "conditional", False):
            extra += "  conditional (VAE)"
            if not is_labelled(entry.info):
                extra += ", classes unlabelled: reconstruct, interpolate and analogy only (draw cannot ask for one)"
        lines.append(f"{entry.name:<16} {entry.origin:<8} {', '.join(entry.classes)}{extra}")
    return (lines or ["no models installed"]) + [f"(user models: {user_model_dir()}; shipped: {shipped_model_dir()})"]


def class_lines(every_class: bool = False) -> list[str]:
    """Every class the installed models draw, with the model that draws it; ``every_class``
    adds the rest of the classes the sketch classifier knows (all of Quick, Draw!'s), marked
    as drawn by no model yet."""
    table = class_table()
    if every_class:
        drawn = {class_key(name) for name in table}
        rest = {name.replace("_", " "): "-" for name in load_classifier().classes if class_key(name) not in drawn}
        table = dict(sorted((table | rest).items(), key=lambda item: class_key(item[0])))
    width = max((len(name) for name in table), default=0)
    return [f"{name:<{width}}  {model}" for name, model in table.items()] or ["no models installed"]
