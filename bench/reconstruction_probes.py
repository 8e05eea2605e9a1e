"""Where unfaithful reconstructions come from: three probes at inference, on the first 100 test
cats through one conditional model, scored as bench/reconstruction_card.py scores
`reconstruct` (retrieval of the own input in the judge's features, recognisability, FID
against the inputs, pen drift after 1, 3, 5, 10 and 20 points; T = 0.3, pen temperature 1).

- codes fitted to the decoder: each input's code moved by Adam, from the encoder's mu, to the
  code under which the decoder, shown the true points (teacher forcing), finds that input most
  likely. If the encoder were what falls short, these codes would reconstruct better.
- the input's own first k points as a prefix, the decoder continuing with the input's code: if
  only the start went wrong, continuations would find their way.
- code guidance: at every point C candidates drawn from p(x | drawing so far, z) at T and one
  of them drawn with weight (p(x | ..., z) / p(x | ..., z0))^w (both likelihoods at T = 1), so
  what the code says outweighs what any cat would do there; z0 is a zero code, another
  input's or a draw from the prior.

    OMP_NUM_THREADS=1 python bench/reconstruction_probes.py [--model PATH] [--fit-steps 200] [--json PATH]

The code fit needs torch (the training extra).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from reconstruction_card import INPUT_COUNT, SHIPPED, model_label, pen_drift, retrieval
from vae_card import DATA

from sketchplot.core.formats import read_input_sketches
from sketchplot.model.classifier import frechet_distance, load_classifier
from sketchplot.model.config import PEN_END, Mixture
from sketchplot.model.data import START_TOKEN, make_batch
from sketchplot.model.files import load_conditional, load_model
from sketchplot.model.latent import encode
from sketchplot.model.mixture import point_log_likelihood
from sketchplot.model.sample import END_POINT, choose_index, sample, sample_step, stroke5_to_sketch
from sketchplot.model.scoring import class_scores

TEMPERATURE = 0.3
PREFIXES = (1, 3, 10, 20)
# (weight w, candidates per point, what z0 is)
GUIDANCE = ((1.0, 16, "zero"), (2.0, 16, "zero"), (1.0, 16, "other"), (4.0, 32, "other"), (1.0, 16, "prior"))
AGAINST = {"zero": "a zero code", "other": "another input's code", "prior": "a prior draw"}


def rows_of(mix: Mixture, index) -> Mixture:
    """The same mixture for some rows (or steps) only."""
    return Mixture(*[None if v is None else v[index] for v in (getattr(mix, f) for f in Mixture.__dataclass_fields__)])


def last_point_log_p(mix: Mixture, points: np.ndarray) -> np.ndarray:
    """log p of each stroke-5 point (B, 5) under the last step of ``mix`` (B rows)."""
    offset_log_p, pen_log_p = point_log_likelihood(rows_of(mix, (slice(None), -1)), points)
    return np.where(points[:, 2 + PEN_END] > 0, 0.0, offset_log_p) + pen_log_p


def guided_sample(decoder, z, z0, scale, weight, candidates, rng, max_len) -> list[np.ndarray]:
    """One drawing per code, each point chosen among ``candidates`` by the guidance weight."""
    n = len(z)
    codes, classes = np.concatenate([z, z0]), np.zeros(2 * n, dtype=np.int64)
    cache = decoder.new_cache(2 * n)
    mix = decoder.forward(np.broadcast_to(START_TOKEN, (2 * n, 1, 5)).copy(), classes, cache, z=codes)
    drawn = np.tile(END_POINT, (n, max_len, 1))
    drawing, length = np.ones(n, dtype=bool), 0
    candidate_row = np.repeat(np.arange(n), candidates)
    while length < max_len:
        own, other = rows_of(mix, slice(0, n)), rows_of(mix, slice(n, 2 * n))
        drawn_candidates = np.stack([sample_step(own, TEMPERATURE, rng) for _ in range(candidates)], 1)
        flat = drawn_candidates.reshape(n * candidates, 5)
        gain = last_point_log_p(rows_of(own, candidate_row), flat) - last_point_log_p(
            rows_of(other, candidate_row), flat
        )
        point = drawn_candidates[np.arange(n), choose_index(weight * gain.reshape(n, candidates), rng)]
        point[~drawing] = END_POINT
        drawn[drawing, length] = point[drawing]
        length += 1
        drawing &= point[:, 2 + PEN_END] == 0
        if not drawing.any() or length >= max_len:
            break
        mix = decoder.forward(np.concatenate([point, point])[:, None], classes, cache, z=codes)
    return [stroke5_to_sketch(points, scale) for points in drawn[:, :length]]


def fitted_codes(model: Path, inputs: list[np.ndarray], mu: np.ndarray, steps: int) -> tuple[np.ndarray, float, float]:
    """Codes moved by ``steps`` Adam steps on the training loss towards the decoder's most likely
    for each input; (codes, teacher-forced offset NLL per point before, after)."""
    import torch

    from sketchplot.model.net import sketch_loss

    net, info = load_model(model)
    for parameter in net.parameters():
        parameter.requires_grad_(False)

    batch = make_batch(list(inputs), [0] * len(inputs), info.scale)
    tensors = [torch.as_tensor(np.asarray(a)) for a in (batch.inputs, batch.targets, batch.mask, batch.classes)]
    inputs_t, targets, mask, classes = tensors
    z = torch.tensor(mu, requires_grad=True)
    optimizer = torch.optim.Adam([z], lr=0.05)

    def offset_nll() -> float:
        with torch.no_grad():
            return float(sketch_loss(net(inputs_t, classes, z), targets, mask, net.cfg)[1])

    before = offset_nll()
    for _ in range(steps):
        loss = sketch_loss(net(inputs_t, classes, z), targets, mask, net.cfg)[0]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return z.detach().numpy().astype(np.float32), before, offset_nll()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(SHIPPED / "cat-vae"))
    parser.add_argument("--fit-steps", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="also write every number here")
    args = parser.parse_args()
    classifier = load_classifier()
    target = classifier.class_index("cat")
    inputs, _ = read_input_sketches(f"{DATA / 'cat.npz'}:0-{INPUT_COUNT - 1}", "test")
    input_features = classifier.predict(inputs).features
    decoder, encoder, info = load_conditional(args.model)
    mu, _ = encode(encoder, inputs, info.scale)
    rows = []

    def score(probe: str, drawings: list[np.ndarray], **extra) -> None:
        seen = classifier.predict(drawings)
        row = {
            "probe": probe,
            "retrieval": float(retrieval(seen.features, input_features)["retrieved"].mean()),
            "recognizability": class_scores(seen.probabilities, target, classifier.classes)["recognizability"],
            "fid": round(frechet_distance(seen.features, input_features), 1),
            "pen_drift": pen_drift(drawings, inputs)["own_input"],
            **extra,
        }
        rows.append(row)
        print(", ".join(f"{k} {v}" for k, v in row.items()), flush=True)

    def decode(codes: np.ndarray) -> list[np.ndarray]:
        return sample(
            decoder,
            len(codes),
            scale=info.scale,
            temperature=TEMPERATURE,
            seed=args.seed,
            max_len=info.max_seq_len,
            z=codes,
        )

    score("encoder's mu (as reconstruct)", decode(mu))
    codes, before, after = fitted_codes(Path(args.model), inputs, mu, args.fit_steps)
    score(
        f"codes fitted to the decoder ({args.fit_steps} Adam steps)",
        decode(codes),
        offset_nll_before=round(before, 3),
        offset_nll_after=round(after, 3),
    )
    for k in PREFIXES:
        continued = [
            sample(
                decoder,
                1,
                scale=info.scale,
                temperature=TEMPERATURE,
                seed=args.seed + i,
                max_len=info.max_seq_len,
                z=mu[i],
                prefix=sketch[:k],
            )[0]
            for i, sketch in enumerate(inputs)
        ]
        score(f"the input's first {k} point{'s' if k > 1 else ''}, then the decoder", continued)
    for weight, candidates, kind in GUIDANCE:
        rng = np.random.default_rng(args.seed)
        z0 = {
            "zero": 0 * mu,
            "other": np.roll(mu, 1, axis=0),
            "prior": rng.standard_normal(mu.shape).astype(np.float32),
        }[kind]
        drawings = guided_sample(decoder, mu, z0, info.scale, weight, candidates, rng, info.max_seq_len)
        score(f"guidance w {weight:g}, {candidates} candidates, against {AGAINST[kind]}", drawings)
    if args.json:
        Path(args.json).write_text(
            json.dumps({"model": model_label(Path(args.model)), "temperature": TEMPERATURE, "probes": rows}, indent=2)
            + "\n"
        )
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
