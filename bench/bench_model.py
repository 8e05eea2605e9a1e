"""Model speed on CPU: batched cached sampling (ours vs Magenta's LSTM, both on numpy as
`sketchplot sample` runs them, same run), single-sketch latency, and training throughput (torch)
in points per second; and a page of sketches with the quality gate and without, per sketch.

    python bench/bench_model.py [--model DIR] [--magenta dog.gen.json] [--threads N]

Without ``--model`` the shipped quickdraw345 is timed, the model most classes are drawn with.
Speed does not depend on the weights, but sketch lengths do, so every figure also reports the
points drawn, the decoding steps (the batch decodes until its longest sketch ends; ended
sketches leave the batch) and the time per step. ``--threads`` sets torch's threads and
should match OMP_NUM_THREADS, which numpy's BLAS reads at start-up.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from sketchplot.model.config import BEST_OF, ModelConfig
from sketchplot.model.data import load_sketch_set, make_batch, offset_scale
from sketchplot.model.decoders import transformer_weight_shapes
from sketchplot.model.files import load_decoder
from sketchplot.model.magenta import load_magenta
from sketchplot.model.net import SketchTransformer, sketch_loss
from sketchplot.model.registry import shipped_model_dir
from sketchplot.model.sample import sample
from sketchplot.model.scoring import sample_best_of
from sketchplot.model.train import TrainConfig, batch_indices

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def timed_sample(decoder, n, scale, class_index, max_len, seed):
    started = time.perf_counter()
    drawn = sample(decoder, n, scale=scale, temperature=0.5, seed=seed, class_index=class_index, max_len=max_len)
    seconds = time.perf_counter() - started
    steps = max(len(s) for s in drawn) + 1  # the batch decodes until its longest sketch ends
    return seconds, steps, float(np.mean([len(s) for s in drawn]))


def bench_sampling(name, decoder, scale, class_index, args):
    timed_sample(decoder, 4, scale, class_index, 20, 0)  # warm-up
    # the same seed each time, so the same sketches: the median of a few runs tames the noise
    # of a shared machine
    batches = [
        timed_sample(decoder, args.batch, scale, class_index, args.max_len, 1) for _ in range(args.batch_repeats)
    ]
    seconds, steps, points = statistics.median(s for s, _, _ in batches), batches[0][1], batches[0][2]
    latencies = [
        timed_sample(decoder, 1, scale, class_index, args.max_len, seed) for seed in range(2, 2 + args.repeats)
    ]
    single = statistics.median(s for s, _, _ in latencies)
    single_points = statistics.median(p for _, _, p in latencies)
    per_step = sum(s for s, _, _ in latencies) / sum(n for _, n, _ in latencies)
    print(
        f"{name:<22} {args.batch} sketches: {seconds:6.2f} s  {steps:3d} steps  "
        f"{1000 * seconds / steps:6.2f} ms/step  mean {points:5.1f} points | "
        f"1 sketch: median {1000 * single:6.1f} ms ({single_points:.0f} points), {1000 * per_step:.2f} ms/step"
    )
    return seconds, seconds / steps


def bench_page(decoder, info, class_name: str, args) -> None:
    """A page of sketches as `draw -n N` samples it, with the quality gate and without: the
    time per sketch (target: under 100 ms), medians over seeds."""
    index = info.classes.index(class_name)
    for best_of in (1, BEST_OF):
        times = []
        for seed in range(args.repeats):
            started = time.perf_counter()
            sample_best_of(
                decoder,
                args.page,
                best_of,
                class_name,
                scale=info.scale,
                seed=seed,
                class_index=index,
                max_len=info.max_seq_len,
            )
            times.append(time.perf_counter() - started)
        per_sketch = statistics.median(times) / args.page
        print(
            f"page of {args.page} {class_name}s, best-of-{best_of}: {1000 * per_sketch:6.1f} ms a sketch (target < 100)"
        )


def bench_training(cfg: ModelConfig, data: Path, args):
    train_cfg = TrainConfig(batch_size=64, max_seq_len=250)
    train_set = load_sketch_set([data], "train", train_cfg.max_seq_len)
    scale = offset_scale(train_set.sketches)
    torch.manual_seed(0)
    net = SketchTransformer(cfg)
    net.train()
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-4)
    points, seconds = 0, 0.0
    for step in range(args.train_steps + 2):
        idx = batch_indices(step, train_set, train_cfg)
        batch = make_batch([train_set.sketches[i] for i in idx], [0] * len(idx), scale).to("cpu")
        started = time.perf_counter()
        mix = net(batch.inputs, batch.classes)
        loss, _, _ = sketch_loss(mix, batch.targets, batch.mask, cfg)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimizer.step()
        if step >= 2:  # the first steps warm up allocators
            seconds += time.perf_counter() - started
            points += int(batch.mask.sum())
    print(
        f"training ({cfg.n_layer}x{cfg.n_embd}, batch 64, {data.stem}): {points / seconds:,.0f} points/s "
        f"({seconds / args.train_steps * 1000:.0f} ms/step over {args.train_steps} steps)"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        type=Path,
        default=Path(shipped_model_dir()) / "quickdraw345",
        help="one of our model directories (default: the shipped quickdraw345)",
    )
    parser.add_argument("--class", dest="class_name", default="cat")
    parser.add_argument("--magenta", type=Path, default=SHARED / "pretrained" / "dog.gen.json")
    parser.add_argument("--data", type=Path, default=SHARED / "quickdraw" / "cat.npz")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--page", type=int, default=12, help="sketches on the page timed with and without the gate")
    parser.add_argument("--max-len", type=int, default=250)
    parser.add_argument("--repeats", type=int, default=10, help="single-sketch runs (one seed each)")
    parser.add_argument("--batch-repeats", type=int, default=3, help="runs of the whole batch (same seed)")
    parser.add_argument("--train-steps", type=int, default=20)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"numpy {np.__version__} (sampling), torch {torch.__version__} (training), "
        f"{torch.get_num_threads()} torch thread(s), CPU"
    )
    ours, info = load_decoder(args.model)
    scale, index, label = info.scale, info.classes.index(args.class_name), f"ours ({args.model.name})"
    cfg = info.model
    magenta, magenta_info = load_magenta(args.magenta)
    ours_size = sum(int(np.prod(shape)) for shape in transformer_weight_shapes(cfg).values())
    magenta_size = sum(a.size for a in (magenta.w_xh, magenta.w_hh, magenta.bias, magenta.out_w, magenta.out_b))
    print(f"{label}: {ours_size:,} parameters; Magenta {args.magenta.name}: {magenta_size:,}")
    ours_total, ours_step = bench_sampling(label, ours, scale, index, args)
    magenta_total, magenta_step = bench_sampling(
        f"Magenta LSTM ({magenta_info.classes[0]})", magenta, magenta_info.scale, 0, args
    )
    print(
        f"{args.batch} sketches, ours / Magenta: {ours_total / magenta_total:.2f} in time, "
        f"{ours_step / magenta_step:.2f} per decoding step (below 1: ours faster)"
    )
    bench_page(ours, info, args.class_name, args)
    bench_training(cfg, args.data, args)


if __name__ == "__main__":
    main()
