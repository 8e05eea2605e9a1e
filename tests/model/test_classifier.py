"""The sketch classifier: rendering, numpy inference equal to its torch twin, FID and KID,
`sketchplot score` and its errors. A tiny random classifier keeps these fast and hermetic."""

import json
import pickle

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from sketchplot.cli import cli
from sketchplot.core.formats import read_sketch_file
from sketchplot.model.classifier import (
    ClassifierError,
    RasterSpec,
    frechet_distance,
    kernel_inception_distance,
    load_classifier,
    render,
    save_classifier,
)
from sketchplot.model.classifier_net import SketchCNN, folded_weights
from sketchplot.model.scoring import score

CLASSES = ["cat", "dog", "The Eiffel Tower"]
STAGES = [[4], [6, 6]]


def square(size=40.0):
    return np.array([[size, 0, 0], [0, size, 0], [-size, 0, 0], [0, -size, 1]], np.float32)


def zigzag(n=12, seed=0):
    rng = np.random.default_rng(seed)
    sketch = np.column_stack([rng.normal(0, 20, (n, 2)), np.zeros(n)]).astype(np.float32)
    sketch[n // 2 - 1, 2] = sketch[-1, 2] = 1
    return sketch


def write_samples(path, sketches, **extra):
    array = np.empty(len(sketches), dtype=object)
    array[:] = sketches
    np.savez(path, sketches=array, **extra)
    return path


@pytest.fixture
def tiny_net():
    torch.manual_seed(0)
    net = SketchCNN(STAGES, size=16, hidden=10, classes=len(CLASSES), dropout=0.0)
    with torch.no_grad():  # non-trivial batch-norm statistics, so folding them is tested
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.1, 0.1)
    return net.eval()


@pytest.fixture
def tiny_classifier_dir(tmp_path, tiny_net):
    config = {"classes": CLASSES, "raster": {"size": 16, "padding": 1.0, "gain": 1.0}, "stages": STAGES, "hidden": 10}
    save_classifier(tmp_path / "classifier", config, folded_weights(tiny_net, STAGES))
    return tmp_path / "classifier"


def test_render_fits_the_bounding_box_whatever_the_units():
    small, large = render([square(4.0), square(400.0)], RasterSpec(size=16))
    assert np.allclose(small, large, atol=1e-5)
    assert small.max() == pytest.approx(1.0) and small[8, 8] == 0


def test_render_draws_only_pen_down_segments():
    lifted = np.array([[10, 0, 1], [0, 10, 1], [-10, 0, 1]], np.float32)  # four separate dots
    down = lifted.copy()
    down[:, 2] = 0
    dots, lines = render([lifted, down], RasterSpec(size=16))
    assert (dots > 0.05).sum() < (lines > 0.05).sum() / 2


def test_numpy_inference_equals_the_torch_network(tiny_net, tiny_classifier_dir):
    classifier = load_classifier(tiny_classifier_dir)
    sketches = [square(), zigzag(seed=1), zigzag(seed=2)]
    images = render(sketches, classifier.spec)
    with torch.no_grad():
        expected = torch.softmax(tiny_net(torch.from_numpy(images)[:, None]), 1).numpy()
    assert classifier.predict(sketches).probabilities == pytest.approx(expected, abs=2e-3)  # fp16 weights


def test_classifier_loads_without_unpickling(tiny_classifier_dir, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("unpickled")

    monkeypatch.setattr(pickle, "Unpickler", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    assert load_classifier(tiny_classifier_dir).classes == CLASSES


def test_a_corrupted_classifier_is_one_clean_error(tiny_classifier_dir):
    weights = tiny_classifier_dir / "classifier.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ClassifierError, match="cannot read the sketch classifier"):
        load_classifier(tiny_classifier_dir)


def test_nan_weights_are_refused(tiny_net, tmp_path):
    with torch.no_grad():
        tiny_net.out.weight[0, 0] = float("nan")
    config = {"classes": CLASSES, "raster": {"size": 16}, "stages": STAGES, "hidden": 10}
    save_classifier(tmp_path / "bad", config, folded_weights(tiny_net, STAGES))
    with pytest.raises(ClassifierError, match="NaN"):
        load_classifier(tmp_path / "bad")


def test_fid_and_kid_of_a_set_against_itself_are_about_zero():
    features = np.random.default_rng(0).normal(size=(300, 8))
    other = np.random.default_rng(1).normal(1.0, 1.0, size=(300, 8))
    assert frechet_distance(features, features) == pytest.approx(0, abs=1e-6)
    same_distribution = np.random.default_rng(2).normal(size=(300, 8))
    assert abs(kernel_inception_distance(features, same_distribution)) < 0.05
    large, large_too = np.random.default_rng(3).normal(size=(2, 1500, 8))  # KID over subsets
    assert abs(kernel_inception_distance(large, large_too)) < 0.05
    assert kernel_inception_distance(large, large_too + 1.0) > 0.5
    assert frechet_distance(features, other) > 7  # |mu difference|^2 = 8
    assert kernel_inception_distance(features, other) > 0.5


def test_score_reports_every_field_and_is_deterministic(tiny_classifier_dir):
    classifier = load_classifier(tiny_classifier_dir)
    sketches = [zigzag(seed=s) for s in range(20)] + [np.zeros((1, 3), np.float32)]
    reference = [square(30 + s) for s in range(10)]
    first = score(sketches, "dog", reference, cap=12, classifier=classifier)
    second = score(sketches, "dog", reference, cap=12, classifier=classifier)
    assert first == second
    for field in (
        "n",
        "recognizability",
        "top5",
        "mean_prob",
        "fid",
        "kid",
        "points_mean",
        "points_median",
        "strokes_mean",
        "strokes_median",
        "at_cap",
        "degenerate",
        "reference",
    ):
        assert field in first
    assert first["n"] == 21 and first["at_cap"] == pytest.approx(20 / 21, abs=1e-4)
    assert first["degenerate"] == pytest.approx(1 / 21, abs=1e-4)
    assert first["strokes_median"] == 2 and first["reference"]["strokes_mean"] == 1
    assert first["top5"] == 1.0  # three classes: always in the top 5


def test_score_reads_sample_files_with_their_cap_and_npz_splits(tmp_path):
    samples = read_sketch_file(write_samples(tmp_path / "s.npz", [square()], max_len=np.int64(50)))
    assert samples.cap == 50 and np.array_equal(samples.sketches[0], square())
    start = np.array([[5, 5, 0]], np.float32)
    with_start = np.empty(1, dtype=object)
    with_start[0] = np.concatenate([start, square()])
    np.savez(tmp_path / "cat.npz", test=with_start)
    real = read_sketch_file(tmp_path / "cat.npz", "test")
    assert np.array_equal(real.sketches[0], square()) and real.cap is None and real.class_hint == "cat"


def _score_cli(tmp_path, classifier_dir, *args):
    return CliRunner().invoke(cli, ["score", *map(str, args), "--classifier", str(classifier_dir)])


def test_score_cli_prints_one_json_object(tmp_path, tiny_classifier_dir):
    samples = write_samples(tmp_path / "s.npz", [zigzag(seed=s) for s in range(5)])
    reference = write_samples(tmp_path / "dog.npz", [square(), square(20)])
    result = _score_cli(
        tmp_path,
        tiny_classifier_dir,
        samples,
        "--class",
        "dog",
        "--reference",
        reference,
        "--reference-split",
        "sketches",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["class"] == "dog" and report["n"] == 5 and report["fid"] >= 0


def test_score_cli_matches_class_names_loosely(tmp_path, tiny_classifier_dir):
    samples = write_samples(tmp_path / "s.npz", [square()])
    result = _score_cli(tmp_path, tiny_classifier_dir, samples, "--class", "the_eiffel_tower")
    assert result.exit_code == 0 and json.loads(result.stdout)["class"] == "The Eiffel Tower"


def test_score_cli_warns_about_a_reference_of_another_class(tmp_path, tiny_classifier_dir):
    samples = write_samples(tmp_path / "s.npz", [square(), zigzag()])
    reference = write_samples(tmp_path / "cat.npz", [square(), square(20)])
    result = CliRunner().invoke(
        cli,
        [
            "score",
            str(samples),
            "--class",
            "dog",
            "--reference",
            str(reference),
            "--reference-split",
            "sketches",
            "--classifier",
            str(tiny_classifier_dir),
        ],
    )
    assert result.exit_code == 0
    assert "Warning: the reference looks like 'cat' drawings" in result.output


@pytest.mark.parametrize(
    "case, message",
    [
        ("unknown class", "unknown class 'dgo' (did you mean: dog?)"),
        ("empty file", "no sketches to score"),
        ("not npz", "cannot read npz file"),
        ("nan", "NaN or infinite offset"),
        ("bad classifier", "cannot read the sketch classifier"),
    ],
)
def test_score_cli_errors_are_one_line(tmp_path, tiny_classifier_dir, case, message):
    samples = write_samples(tmp_path / "s.npz", [square()])
    class_name = "dgo" if case == "unknown class" else "dog"
    if case == "empty file":
        samples = write_samples(tmp_path / "empty.npz", [])
    elif case == "not npz":
        samples.write_bytes(b"not a zip file at all")
    elif case == "nan":
        samples = write_samples(tmp_path / "nan.npz", [np.array([[np.nan, 1, 1]], np.float32)])
    elif case == "bad classifier":
        (tiny_classifier_dir / "classifier.json").write_text("{")
    result = _score_cli(tmp_path, tiny_classifier_dir, samples, "--class", class_name)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_the_gate_keeps_the_first_recognised_of_each_group_in_order(tiny_classifier_dir):
    from sketchplot.model.scoring import first_recognised

    classifier = load_classifier(tiny_classifier_dir)
    candidates = [zigzag(seed=s) for s in range(6)] + [square(), np.zeros((0, 3), np.float32)]
    probabilities = classifier.predict(candidates).probabilities
    dog = classifier.class_index("dog")
    recognised = probabilities.argmax(axis=1) == dog
    kept = first_recognised(candidates, "dog", 4, classifier)
    for k, group in enumerate((range(0, 4), range(4, 7))):  # the empty sketch is never the pick
        hits = [i for i in group if recognised[i]]
        expected = hits[0] if hits else max(group, key=lambda i: probabilities[i, dog])
        assert kept[k] is candidates[expected]
    assert len(kept) == 2
    assert first_recognised(candidates, "dog", 1, classifier) == candidates


def test_the_gate_prefers_an_earlier_recognised_candidate_over_a_more_typical_one(tiny_classifier_dir, monkeypatch):
    from sketchplot.model import scoring

    classifier = load_classifier(tiny_classifier_dir)
    dog = classifier.class_index("dog")
    other = 1 - dog if dog in (0, 1) else 0
    probabilities = np.full((4, len(classifier.classes)), 0.0)
    probabilities[0, other] = 1.0  # not recognised
    probabilities[1, dog] = 0.6  # recognised, the first
    probabilities[2, dog] = 0.99  # recognised, more typical
    probabilities[3, other] = 0.5
    monkeypatch.setattr(type(classifier), "predict", lambda self, s: type("P", (), {"probabilities": probabilities})())
    candidates = [square() for _ in range(4)]
    assert scoring.first_recognised(candidates, "dog", 4, classifier)[0] is candidates[1]


def test_the_gate_passes_over_a_candidate_cut_off_at_the_length_cap(tiny_classifier_dir, monkeypatch):
    from sketchplot.model import scoring

    classifier = load_classifier(tiny_classifier_dir)
    dog = classifier.class_index("dog")
    probabilities = np.full((6, len(classifier.classes)), 0.0)
    probabilities[:, dog] = [0.9, 0.2, 0.6, 0.7, 0.9, 0.8]  # all recognised
    monkeypatch.setattr(type(classifier), "predict", lambda self, s: type("P", (), {"probabilities": probabilities})())
    capped, finished = np.tile(square(), (20, 1))[:50], square()
    candidates = [capped, finished, finished.copy(), capped, capped.copy(), capped.copy()]
    kept = scoring.first_recognised(candidates, "dog", 3, classifier, max_len=50)
    assert kept[0] is candidates[1]  # the first recognised that the model ended
    assert kept[1] is candidates[4]  # all three cut off: still one, the most likely
    assert scoring.first_recognised(candidates, "dog", 3, classifier)[0] is candidates[0]  # no cap given


def _scribble_like(sketch, rng):
    """A random walk with the sketch's own point count, stroke breaks and step lengths."""
    steps = np.linalg.norm(sketch[:, :2], axis=1, keepdims=True)
    angles = rng.uniform(0, 2 * np.pi, len(sketch))
    walk = np.column_stack([np.cos(angles), np.sin(angles)]) * steps
    return np.column_stack([walk, sketch[:, 2]]).astype(np.float32)


@pytest.mark.parametrize("class_name", ["cat", "bicycle"])
def test_the_shipped_classifier_tells_real_drawings_from_scribbles(class_name):
    from pathlib import Path

    from sketchplot.core.formats import read_sketch_file

    path = Path(__file__).resolve().parents[3] / "shared" / "data" / "quickdraw" / f"{class_name}.npz"
    if not path.exists():
        pytest.skip("../shared/data/quickdraw is not available")
    real = read_sketch_file(path, "test").sketches[:80]
    reference = read_sketch_file(path, "valid").sketches[:80]
    rng = np.random.default_rng(0)
    scribbles = [_scribble_like(s, rng) for s in real]
    classifier = load_classifier()
    real_report = score(real, class_name, reference, classifier=classifier)
    scribble_report = score(scribbles, class_name, reference, classifier=classifier)
    assert real_report["recognizability"] > 0.8 > 0.1 > scribble_report["recognizability"]
    assert scribble_report["fid"] > 3 * real_report["fid"]
    assert real_report["points_mean"] == scribble_report["points_mean"]
    assert real_report["strokes_mean"] == scribble_report["strokes_mean"]
    assert score(real, class_name, real, classifier=classifier)["fid"] < 1e-3  # a set against itself
