"""Sketches from the models, as the commands ask for them: sampled for a class, reconstructed,
interpolated, combined by latent arithmetic, or completed from a partial drawing.

Each returns ``Sketches``: stroke-3 from the origin (what ``sample -o`` writes), the drawings
to lay out (the partial drawing and its endings in two pens for ``complete``) and the model
that drew them, which every command names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sketchplot.app.pages import sketch_preview, write_sketch_preview
from sketchplot.core.errors import SketchplotError
from sketchplot.core.formats import (
    Drawing,
    from_origin,
    keep_strokes,
    read_input_sketches,
    split_polylines,
    write_sketches,
)
from sketchplot.model import latent
from sketchplot.model.config import BEST_OF, PEN_TEMPERATURE
from sketchplot.model.files import ModelInfo, load_conditional
from sketchplot.model.registry import class_index, is_labelled, load_any, locate, locate_conditional
from sketchplot.model.sample import check_temperature, sample
from sketchplot.model.scoring import sample_best_of


@dataclass(frozen=True)
class Sampling:
    """How to sample: the options every sampling command spells the same."""

    temperature: float = 0.5
    pen_temperature: float = PEN_TEMPERATURE
    seed: int | None = None
    model: str | None = None  # a model name or path; None: the installed one that fits

    def check(self) -> None:
        check_temperature(self.temperature)


@dataclass(frozen=True)
class Sketches:
    """Stroke-3 sketches from the origin, what to lay out, and the model that drew them."""

    strokes: list[np.ndarray]
    model_path: Path
    info: ModelInfo
    title: str  # what the page shows, for the report and the G-code header
    job: str  # a short name for the G-code file of a streamed job
    drawings: list[np.ndarray | Drawing] | None = None  # None: lay out ``strokes``
    line_layers: list[list[int]] | None = None  # pen of each line of ``drawings``

    @property
    def page_items(self) -> list[np.ndarray | Drawing]:
        return self.strokes if self.drawings is None else self.drawings

    def page_request(self) -> dict:
        """The arguments of a drawing command's page: the items to lay out, title, job name, the
        model, and the stroke-3 sketches behind the page with their length cap and line pens."""
        return {
            "items": self.page_items,
            "title": self.title,
            "job": self.job,
            "model": self,
            "strokes": self.strokes,
            "max_len": self.max_len,
            "line_layers": self.line_layers,
        }

    @property
    def model_name(self) -> str:
        return self.model_path.stem if self.model_path.suffix in (".zip", ".json") else self.model_path.name

    @property
    def max_len(self) -> int:
        return self.info.max_seq_len


def sample_class(
    class_name: str, count: int, how: Sampling, *, best_of: int = BEST_OF, max_len: int | None = None
) -> Sketches:
    """``count`` sketches of a class from the model that draws it, each the most recognisable
    of ``best_of`` candidates."""
    how.check()
    path = locate(class_name, how.model)
    decoder, info = load_any(path)
    index = class_index(info, class_name, str(how.model or path))
    strokes = sample_best_of(
        decoder,
        count,
        best_of,
        info.classes[index],
        scale=info.scale,
        temperature=how.temperature,
        seed=how.seed,
        class_index=index,
        max_len=max_len or info.max_seq_len,
        pen_temperature=how.pen_temperature,
    )
    title = f"{count} {class_name} sketch(es) at temperature {how.temperature:g}"
    return Sketches(strokes, Path(path), info, title, class_name)


@dataclass(frozen=True)
class Encoded:
    """A conditional model and the latent codes (posterior means) of some input sketches."""

    model_path: Path
    decoder: object
    info: ModelInfo
    class_index: int
    codes: list[np.ndarray]


def encode_inputs(specs: list[str], split: str, model: str | None, *, one_each: bool = False) -> Encoded:
    """Every sketch of every input spec (``cat.npz:3``, ``my.svg``, ``cat.npz:0-9``) encoded by
    the conditional model given, or the installed one that knows the inputs' classes;
    ``one_each``: each spec must hold exactly one sketch."""
    sketches, hints = [], []
    for spec in specs:
        found, hint = read_input_sketches(spec, split)
        if one_each and len(found) != 1:
            raise SketchplotError(f"{spec}: {len(found)} sketches; this command takes one")
        sketches += found
        hints.append(hint)
    path = locate_conditional(model, hints)
    decoder, encoder, info = load_conditional(path)
    where = " ".join(specs)
    codes = [latent.encode(encoder, [sketch], info.scale, where=where)[0][0] for sketch in sketches]
    if is_labelled(info) and len(info.classes) > 1:
        hint = next((h for h in hints if h in info.classes), None)
        index = class_index(info, hint, "the model")
    else:
        index = 0
    return Encoded(Path(path), decoder, info, index, codes)


def _decode(encoded: Encoded, z: np.ndarray, how: Sampling, title: str, job: str) -> Sketches:
    """Sketches decoded from latent codes ``z`` by the model that encoded the inputs."""
    info = encoded.info
    strokes = sample(
        encoded.decoder,
        len(z),
        scale=info.scale,
        temperature=how.temperature,
        seed=how.seed,
        class_index=encoded.class_index,
        max_len=info.max_seq_len,
        pen_temperature=how.pen_temperature,
        z=z,
    )
    return Sketches(strokes, encoded.model_path, info, f"{title} at temperature {how.temperature:g}", job)


def reconstruct(spec: str, count: int, how: Sampling, split: str = "test") -> Sketches:
    """``count`` decodings of each input sketch's code, each input's variations together."""
    how.check()
    encoded = encode_inputs([spec], split, how.model)
    z = np.repeat(np.stack(encoded.codes), count, 0)
    title = f"{count} reconstruction(s) of each of {len(encoded.codes)} sketch(es) from {spec}"
    return _decode(encoded, z, how, title, "reconstruct")


def interpolate(first: str, second: str, steps: int, how: Sampling, split: str = "test") -> Sketches:
    """``steps`` sketches on the great circle from A's code to B's."""
    how.check()
    encoded = encode_inputs([first, second], split, how.model, one_each=True)
    z = latent.interpolate(*encoded.codes, steps)
    return _decode(encoded, z, how, f"{steps} steps from {first} to {second}", "interpolate")


def analogy(first: str, second: str, third: str, count: int, how: Sampling, split: str = "test") -> Sketches:
    """``count`` decodings of z(A) - z(B) + z(C)."""
    how.check()
    encoded = encode_inputs([first, second, third], split, how.model, one_each=True)
    z = np.repeat(latent.analogy(*encoded.codes)[None], count, 0)
    return _decode(encoded, z, how, f"{count} sketch(es) of {first} - {second} + {third}", "analogy")


def complete(
    partial: str, class_name: str, count: int, how: Sampling, *, split: str = "test", strokes: int | None = None
) -> Sketches:
    """``count`` endings of each partial drawing by the model that draws ``class_name``: the
    partial drawing in pen 1, exactly as given (its first ``strokes`` strokes), the endings in pen 2."""
    how.check()
    prefixes, _ = read_input_sketches(partial, split)
    if strokes:
        prefixes = [keep_strokes(prefix, strokes) for prefix in prefixes]
    path = locate(class_name, how.model)
    decoder, info = load_any(path)
    index = class_index(info, class_name, str(how.model or path))
    sketches, drawings, layers = [], [], []
    for number, prefix in enumerate(prefixes):
        if len(prefix) >= info.max_seq_len:
            raise SketchplotError(
                f"{partial} (sketch {number + 1}): {len(prefix)} points; the model continues "
                f"sketches shorter than {info.max_seq_len}"
            )
        # A conditional model draws its codes from the prior: the partial drawing's own code says
        # "a sketch like this one", which ends too soon (measured in MODELS.md).
        endings = sample(
            decoder,
            count,
            scale=info.scale,
            temperature=how.temperature,
            seed=None if how.seed is None else how.seed + number,
            class_index=index,
            max_len=info.max_seq_len,
            pen_temperature=how.pen_temperature,
            prefix=prefix,
        )
        for sketch in endings:
            given, ending = split_polylines(from_origin(sketch), len(prefix) + 1, partial)
            drawings.append(given + ending)
            layers.append([1] * len(given) + [2] * len(ending))
        sketches += endings
    title = (
        f"{count} ending(s) of each of {len(prefixes)} sketch(es) from {partial} as {class_name} "
        f"at temperature {how.temperature:g}"
    )
    return Sketches(sketches, Path(path), info, title, f"complete-{class_name}", drawings, layers)


def write_samples(
    drawn: Sketches, *, sketches_path: str | None = None, preview_path: str | None = None, max_len: int | None = None
) -> list[tuple[str, str]]:
    """`sample`'s outputs: the stroke-3 file (with the length cap) and a preview page, laid out
    before anything is written so a failure leaves no output; (label, path) of each written."""
    preview = sketch_preview(drawn.strokes) if preview_path else None
    outputs = []
    if sketches_path:
        write_sketches(sketches_path, drawn.strokes, max_len=max_len or drawn.max_len)
        outputs.append(("sketches", sketches_path))
    if preview is not None:
        write_sketch_preview(preview, preview_path)
        outputs.append(("preview", preview_path))
    return outputs
