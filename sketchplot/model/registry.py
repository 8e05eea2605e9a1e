"""Which model draws which class: shipped models, the user's own, or an explicit path.

Shipped models are package data in ``sketchplot/model/shipped/<name>/``; user models are
model directories in ``<user config dir>/models/<name>/`` (``$SKETCHPLOT_CONFIG_DIR``, see
``sketchplot.core.paths.user_config_dir``) and win over a shipped model serving the
same class. ``--model PATH`` takes one of our model directories or a Magenta ``.gen.json``.
A model may serve several classes (class-conditional); the class picks its index.
"""

from __future__ import annotations

import difflib
from functools import cached_property
from importlib import resources
from pathlib import Path

from sketchplot.core.errors import SketchplotError
from sketchplot.core.formats import class_key, find_class
from sketchplot.core.paths import user_model_dir
from sketchplot.model.decoders import Decoder, TransformerEncoder
from sketchplot.model.files import CONFIG_NAME, ModelFileError, ModelInfo, load_decoder, read_info


class ModelEntry:
    """One installed model: where it lives and, read on first use, what it draws.

    Listing needs only the folder's names; the config is read when a caller asks for
    ``info`` (``error`` then says why it is unreadable), so one broken model costs nothing to
    a command that never looks at it.
    """

    def __init__(self, name: str, path: Path, origin: str):
        self.name, self.path, self.origin = name, path, origin  # origin: "user" or "shipped"

    @cached_property
    def _read(self) -> tuple[ModelInfo | None, str]:
        try:
            return read_info(self.path), ""
        except ModelFileError as exc:
            return None, str(exc)

    @property
    def info(self) -> ModelInfo | None:
        return self._read[0]

    @property
    def error(self) -> str:
        return self._read[1]

    @property
    def classes(self) -> list[str]:
        return self.info.classes if self.info else []


def shipped_model_dir() -> Path:
    return Path(str(resources.files("sketchplot.model") / "shipped"))


def _entries(folder: Path, origin: str) -> list[ModelEntry]:
    try:
        paths = sorted(p for p in folder.iterdir() if (p / CONFIG_NAME).is_file() or p.suffix == ".zip")
    except OSError:  # no such folder, or not readable: no models there
        return []
    return [ModelEntry(path.stem if path.suffix == ".zip" else path.name, path, origin) for path in paths]


def available_models() -> list[ModelEntry]:
    """User models first (they take precedence), then shipped ones; configs not read yet."""
    return _entries(user_model_dir(), "user") + _entries(shipped_model_dir(), "shipped")


def load_any(path: str | Path) -> tuple[Decoder, ModelInfo]:
    """(numpy decoder, info) from one of our model directories or a Magenta ``.gen.json`` file."""
    path = Path(path)
    if path.is_dir() or path.suffix == ".zip":
        return load_decoder(path)
    if path.is_file() and path.name.endswith(".json"):
        from sketchplot.model.magenta import load_magenta

        return load_magenta(path)
    if not path.exists():
        raise ModelFileError(f"model not found: {path}")
    raise ModelFileError(f"{path}: not a model (expected a model directory or .zip, or a Magenta .gen.json)")


def is_magenta(info: ModelInfo) -> bool:
    from sketchplot.model.magenta import MagentaConfig

    return isinstance(info.model, MagentaConfig)


def find_model(name_or_path: str) -> Path:
    """A model path from a path, or the name of a user or shipped model."""
    path = Path(name_or_path)
    if path.exists():
        return path
    entries = available_models()
    for entry in entries:
        if entry.name == name_or_path:
            return entry.path
    names = sorted({e.name for e in entries})
    raise ModelFileError(f"no model '{name_or_path}' (not a path; installed: {', '.join(names) or 'none'})")


def is_labelled(info: ModelInfo) -> bool:
    """False for a model trained on several classes as one unlabelled set (its latent code, not
    a class index, decides what it draws)."""
    return getattr(info.model, "n_classes", len(info.classes)) == len(info.classes)


def class_index(info: ModelInfo, class_name: str | None, where: str) -> int:
    """The model's index for ``class_name``; a one-class or unlabelled model may be asked for
    no class."""
    if class_name is None:
        if len(info.classes) == 1 or not is_labelled(info):
            return 0
        raise SketchplotError(f"{where} draws several classes ({', '.join(info.classes)}): name one")
    index = find_class(info.classes, class_name)
    if index is not None:
        return index if is_labelled(info) else 0
    raise SketchplotError(f"{where} does not draw '{class_name}'{_suggest(class_name, info.classes)}")


LISTED_CLASSES = 12  # an error lists every class only when there are at most this many


def _suggest(name: str, classes: list[str], label: str = "it draws") -> str:
    by_key = {class_key(c): c for c in classes}
    close = [by_key[k] for k in difflib.get_close_matches(class_key(name), list(by_key), n=3, cutoff=0.5)]
    if not close:  # a word of the name inside a class name: "tower" -> "The Eiffel Tower"
        words = class_key(name).split()
        close = sorted(c for k, c in by_key.items() if any(w in k.split() for w in words))[:3]
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    listed = (
        ", ".join(sorted(classes))
        if len(classes) <= LISTED_CLASSES
        else f"{len(classes)} classes, see `sketchplot classes`"
    )
    return f" ({label}: {listed}){hint}"


QUALITY_METRIC = "recognizability"  # metrics[QUALITY_METRIC][class]: measured share recognised
GATED_QUALITY_METRIC = "recognizability_gated"  # the same with draw's quality gate


def recognizability(info: ModelInfo, class_name: str, metric: str = QUALITY_METRIC) -> float | None:
    """The share of this model's samples of ``class_name`` that the sketch classifier recognised
    when it was measured (bench/record_quality.py), or None if never measured; ``metric``
    GATED_QUALITY_METRIC: of the sketches the quality gate kept, as ``draw`` draws them."""
    measured = info.metrics.get(metric)
    if not isinstance(measured, dict):
        return None
    index = find_class(list(measured), class_name)
    value = list(measured.values())[index] if index is not None else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _preference(entry: ModelEntry, class_name: str) -> tuple:
    """Sort key among the models serving a class: the user's own first, then the best measured
    recognisability of what ``draw`` draws (with the quality gate), then without the gate,
    then unconditional before conditional, then listing order. Unmeasured ranks last."""
    gated, plain = (recognizability(entry.info, class_name, m) for m in (GATED_QUALITY_METRIC, QUALITY_METRIC))
    conditional = getattr(entry.info.model, "conditional", False)
    return (
        entry.origin != "user",
        -(gated if gated is not None else -1.0),
        -(plain if plain is not None else -1.0),
        conditional,
    )


def _best_serving(entries: list[ModelEntry], class_name: str) -> ModelEntry | None:
    serving = [e for e in entries if find_class(e.classes, class_name) is not None]
    return min(serving, key=lambda e: _preference(e, class_name)) if serving else None


def locate(class_name: str, model_path: str | Path | None = None) -> Path:
    """The model that draws ``class_name``: ``model_path``, or a user model serving it, else the
    shipped model whose samples of it were measured most recognisable (unmeasured ones last,
    unconditional before conditional, which draw from latent codes of the prior); an unlabelled
    multi-class model cannot be asked for one class. Unknown class: an error with the closest
    match."""
    if model_path is not None:
        return find_model(str(model_path))
    entries = [e for e in available_models() if e.info is not None and is_labelled(e.info)]
    best = _best_serving(entries, class_name)
    if best is not None:
        return best.path
    classes = sorted({c for e in entries for c in e.classes})
    if not classes:
        raise SketchplotError(f"no models installed (looked in {user_model_dir()} and the package); use --model PATH")
    unlabelled = [
        e.name
        for e in available_models()
        if e.info is not None and not is_labelled(e.info) and find_class(e.classes, class_name) is not None
    ]
    if unlabelled:
        raise SketchplotError(
            f"no model draws '{class_name}' on request ({', '.join(unlabelled)} learnt it without labels: "
            f"reconstruct, interpolate and analogy only)"
        )
    raise SketchplotError(f"no model draws '{class_name}'{_suggest(class_name, classes, 'available')}")


def class_table() -> dict[str, str]:
    """Every class an installed model draws -> the name of the model ``locate`` picks for it."""
    entries = [e for e in available_models() if e.info is not None and is_labelled(e.info)]
    names = {class_key(c): c for e in reversed(entries) for c in e.classes}
    table = {name: _best_serving(entries, name).name for name in names.values()}
    return dict(sorted(table.items(), key=lambda item: class_key(item[0])))


def resolve(class_name: str, model_path: str | Path | None = None) -> tuple[Decoder, ModelInfo, int]:
    """(numpy decoder, info, class index) of the model that draws ``class_name`` (``locate``)."""
    path = locate(class_name, model_path)
    decoder, info = load_any(path)
    return decoder, info, class_index(info, class_name, str(model_path or path))


def locate_conditional(model_path: str | Path | None = None, hints: list[str] = ()) -> Path:
    """A conditional (VAE) model: ``model_path``, which must be conditional; without, among the
    installed conditional models that serve every class in ``hints`` that some model serves
    (input file names such as ``cat`` or ``pig``; other hints are ignored), the user's own
    first, then the one of fewest classes (a model of sheep alone encodes sheep best); when no
    model serves them all, the first one."""
    if model_path is not None:
        path = find_model(str(model_path))
        info = read_info(path) if path.is_dir() or path.suffix == ".zip" else load_any(path)[1]
        if not getattr(info.model, "conditional", False):
            raise SketchplotError(
                f"{model_path} is not a conditional model (it cannot encode sketches); installed "
                f"conditional models: {', '.join(e.name for e in _conditional_entries()) or 'none'}"
            )
        return path
    entries = _conditional_entries()
    if not entries:
        raise SketchplotError("no conditional (VAE) model installed; train one with latent_size > 0 or use --model")
    known = {c for e in entries for c in e.classes}
    wanted = [h for h in hints if h in known]
    serving = [e for e in entries if all(c in e.classes for c in wanted)]
    if not serving:
        return entries[0].path
    return min(serving, key=lambda e: (e.origin != "user", len(e.classes))).path


def resolve_conditional(
    model_path: str | Path | None = None, hints: list[str] = ()
) -> tuple[Decoder, TransformerEncoder, ModelInfo]:
    """(numpy decoder, numpy encoder, info) of the conditional model ``locate_conditional`` picks."""
    from sketchplot.model.files import load_conditional

    return load_conditional(locate_conditional(model_path, hints))


def _conditional_entries() -> list[ModelEntry]:
    return [e for e in available_models() if e.info is not None and e.info.model.conditional]
