"""The Magenta port against the sketch-rnn-js maths, computed by hand in numpy."""

import base64
import json
from pathlib import Path

import numpy as np
import pytest

from sketchplot.model.files import ModelFileError
from sketchplot.model.magenta import decode_weights, load_magenta
from sketchplot.model.sample import sample

PRETRAINED = Path(__file__).resolve().parents[3] / "shared" / "data" / "pretrained"


def encode(values: np.ndarray) -> str:
    return base64.b64encode(values.astype("<i2").tobytes()).decode()


def write_gen_json(path, units=4, mixture=2, mode=2, seed=0, shapes=None):
    """A synthetic .gen.json; returns the raw int16 arrays too."""
    rng = np.random.default_rng(seed)
    outputs = 6 * mixture + 3
    shapes = shapes or [[units, outputs], [outputs], [5, 4 * units], [units, 4 * units], [4 * units]]
    raw = [rng.integers(-6000, 6000, size=int(np.prod(s))).astype(np.int16) for s in shapes]
    info = {"name": "blob", "mode": mode, "version": 6, "max_seq_len": 30, "scale_factor": 40.0}
    path.write_text(json.dumps([info, shapes, [encode(r) for r in raw]]))
    return raw


def js_step(weights, x, h, c):
    """One sketch-rnn-js step in float64: tf.basicLSTMCell with forget bias 1, then getPDF's split."""
    out_w, out_b, w_xh, w_hh, bias = (np.asarray(w, dtype=np.float64) for w in weights)
    u = w_hh.shape[0]
    res = np.concatenate([x, h]) @ np.concatenate([w_xh, w_hh]) + bias
    i, j, f, o = res[:u], res[u : 2 * u], res[2 * u : 3 * u], res[3 * u :]
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    c = sig(i) * np.tanh(j) + c * sig(f + 1.0)
    h = np.tanh(c) * sig(o)
    z = h @ out_w + out_b
    pen, rest = z[:3], z[3:]
    pi, mu1, mu2, s1, s2, corr = np.split(rest, 6)
    pdf = dict(
        pen=pen,
        log_pi=pi - np.log(np.exp(pi).sum()),
        mu_x=mu1,
        mu_y=mu2,
        sigma_x=np.exp(s1),
        sigma_y=np.exp(s2),
        rho=np.tanh(corr),
    )
    return pdf, h, c


def check_steps(decoder, weights, inputs):
    u = weights[3].shape[0]
    h, c = np.zeros(u), np.zeros(u)
    state = decoder.new_cache(1)
    for x in inputs:
        mix = decoder.forward(np.asarray(x, dtype=np.float32)[None, None], cache=state)
        pdf, h, c = js_step(weights, x, h, c)
        np.testing.assert_allclose(state.h[0], h, atol=2e-5)
        np.testing.assert_allclose(state.c[0], c, atol=2e-5)
        for name, expected in pdf.items():
            got = (mix.pen_logits if name == "pen" else getattr(mix, name))[0, 0]
            np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4, err_msg=name)


def test_decode_weights_is_int16_times_10_over_32767():
    raw = np.array([-32767, -1, 0, 1, 12345, 32767], dtype=np.int16)
    np.testing.assert_array_equal(
        decode_weights(encode(raw)), (10.0 * raw.astype(np.float64) / 32767).astype(np.float32)
    )


@pytest.mark.parametrize("mode", [2, "gen"])
def test_synthetic_file_steps_match_js_maths(tmp_path, mode):
    path = tmp_path / "blob.gen.json"
    raw = write_gen_json(path, mode=mode)
    shapes = json.loads(path.read_text())[1]
    weights = [(10.0 * r.astype(np.float64) / 32767).reshape(s) for r, s in zip(raw, shapes)]
    net, info = load_magenta(path)
    assert info.classes == ["blob"] and info.scale == 40.0 and info.max_seq_len == 30
    inputs = [np.array([0, 0, 1, 0, 0.0]), np.array([0.3, -1.2, 1, 0, 0]), np.array([-0.7, 0.4, 0, 1, 0])]
    check_steps(net, weights, inputs)
    # The whole sequence at once gives the same steps as the step-by-step cache.
    full = net.forward(np.array(inputs, dtype=np.float32)[None])
    state = net.new_cache(1)
    for t, x in enumerate(inputs):
        stepped = net.forward(np.asarray(x, dtype=np.float32)[None, None], cache=state)
        np.testing.assert_allclose(full.mu_x[:, t], stepped.mu_x[:, 0], rtol=1e-6, atol=1e-6)
    # keeping rows of a batch state continues those rows
    batch = np.array([inputs, inputs[::-1]], dtype=np.float32)
    state = net.new_cache(2)
    net.forward(batch[:, :2], cache=state)
    state.keep(np.array([1]))
    np.testing.assert_allclose(
        net.forward(batch[1:, 2:], cache=state).mu_x[0, 0], net.forward(batch[1:]).mu_x[0, 2], rtol=1e-6, atol=1e-6
    )


def test_the_sampler_draws_with_a_magenta_decoder(tmp_path):
    write_gen_json(tmp_path / "blob.gen.json")
    decoder, info = load_magenta(tmp_path / "blob.gen.json")
    drawn = sample(decoder, 3, scale=info.scale, temperature=0.5, seed=0, max_len=20)
    again = sample(decoder, 3, scale=info.scale, temperature=0.5, seed=0, max_len=20)
    assert len(drawn) == 3 and all(s.shape[1:] == (3,) and len(s) <= 20 for s in drawn)
    assert all(np.array_equal(a, b) for a, b in zip(drawn, again))


@pytest.mark.parametrize("name", ["dog", "bear"])  # bear: the older version-2 'gen' format
def test_real_model_step_matches_js_maths(name):
    path = PRETRAINED / f"{name}.gen.json"
    if not path.exists():
        pytest.skip("../shared/data/pretrained is not available")
    raw = json.loads(path.read_text())
    weights = [decode_weights(b).astype(np.float64).reshape(s) for s, b in zip(raw[1], raw[2])]
    net, info = load_magenta(path)
    assert info.classes == [name] and info.scale == raw[0]["scale_factor"]
    check_steps(net, weights, [np.array([0, 0, 1, 0, 0.0]), np.array([0.5, 0.2, 1, 0, 0])])


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda p: p.write_text("{not json"), "unreadable JSON"),
        (lambda p: p.write_text(json.dumps({"a": 1})), "expected [info, shapes, weights]"),
        (lambda p: write_gen_json(p, mode=0), "not a decoder-only model"),
        (lambda p: write_gen_json(p, shapes=[[4, 15], [15], [5, 16], [4, 16], [15]]), "unexpected weight shapes"),
    ],
)
def test_foreign_or_broken_files_fail_cleanly(tmp_path, breakage, message):
    path = tmp_path / "bad.gen.json"
    breakage(path)
    with pytest.raises(ModelFileError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_magenta(path)


def test_truncated_blob_fails_cleanly(tmp_path):
    path = tmp_path / "cut.gen.json"
    write_gen_json(path)
    raw = json.loads(path.read_text())
    raw[2][3] = raw[2][3][:-8]
    path.write_text(json.dumps(raw))
    with pytest.raises(ModelFileError, match="blob 3"):
        load_magenta(path)
