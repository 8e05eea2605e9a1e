"""What `sketchplot draw cat --dry-run` costs, next to a plotting CLI everyone knows.

Wall time from process start to exit of

    sketchplot draw cat --dry-run --gcode x.gcode
    vpype random -n 10 write x.svg      (the reference: a plotting CLI's fixed cost)

run alternately in one session (median of N runs each), their ratio (target: ours under 3 s
and within 2x of vpype's), and a breakdown of where our time goes (imports, model load,
sampling, the page), measured in-process through the application layer the CLI uses.

    python bench/bench_draw.py [--runs 7]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def breakdown() -> dict[str, float]:
    """Each stage of draw, timed in a fresh interpreter so imports are cold."""
    code = r"""
import time, json
t0 = time.perf_counter()
import numpy, click
from sketchplot.app.pages import PageSettings, build_page
from sketchplot.app.sketches import Sampling, sample_class
from sketchplot.core.profiles import load_profile
t1 = time.perf_counter()
drawn = sample_class("cat", 1, Sampling(temperature=0.5, seed=1))
t2 = time.perf_counter()
profile = load_profile("a4-servo")
build_page(drawn.strokes, PageSettings(profile, profile.paper, profile.landscape))
t3 = time.perf_counter()
print(json.dumps({"imports": t1 - t0, "model load + sampling": t2 - t1,
                  "page: layout, optimisation, G-code, estimate": t3 - t2}))
"""
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    import json

    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    exe = Path(sys.executable).parent
    sketchplot = shutil.which("sketchplot", path=str(exe)) or "sketchplot"
    vpype = shutil.which("vpype", path=str(exe)) or "vpype"
    with tempfile.TemporaryDirectory() as tmp:
        ours_cmd = [sketchplot, "draw", "cat", "--dry-run", "--seed", "1", "--gcode", f"{tmp}/x.gcode"]
        ref_cmd = [vpype, "random", "-n", "10", "write", f"{tmp}/x.svg"]
        wall(ours_cmd), wall(ref_cmd)  # warm the file cache
        ours, ref = [], []
        for _ in range(args.runs):
            ours.append(wall(ours_cmd))
            ref.append(wall(ref_cmd))
    ours_s, ref_s = statistics.median(ours), statistics.median(ref)
    print(f"{'command':<52} {'median s':>9}  (runs: {args.runs})")
    print(f"{'sketchplot draw cat --dry-run --gcode x.gcode':<52} {ours_s:9.3f}")
    print(f"{'vpype random -n 10 write x.svg':<52} {ref_s:9.3f}")
    print(f"ratio ours / vpype: {ours_s / ref_s:.2f}   (target <= 2.0; ours target < 3 s)")
    print("breakdown of draw (one cold run, in-process):")
    for stage, seconds in breakdown().items():
        print(f"  {stage:<46} {seconds:7.3f} s")


if __name__ == "__main__":
    main()
