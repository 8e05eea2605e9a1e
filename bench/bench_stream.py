"""Character counting vs send-and-wait through the simulated 115200-baud link (realtime=1).

The machine is made faster than the link (a profile with huge feeds and no pen settle
dwell), so the link is the bottleneck, as it is for a plotter drawing many short segments.
Prints lines/s of each protocol, their ratio, and the fraction of the link's byte capacity
(10 bits per byte) each one used.

    python bench/bench_stream.py [--cats 12] [--baud 115200]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sketchplot.app.jobs import run_job  # noqa: E402
from sketchplot.app.pages import PageSettings, build_page  # noqa: E402
from sketchplot.core.formats import read_npz, strokes_to_polylines  # noqa: E402
from sketchplot.core.profiles import load_profile, profile_from_dict  # noqa: E402

QUICKDRAW = ROOT.parent / "shared" / "data" / "quickdraw" / "cat.npz"


def fast_profile(folder: Path) -> Path:
    """a4-servo with feeds and acceleration far above what 115200 baud can feed it, and no
    settle dwell: the machine is never the bottleneck, the link is."""
    import tomllib

    data = tomllib.loads(load_profile("a4-servo").to_toml())
    data.update(
        name="bench-fast",
        draw_feed=600000.0,
        travel_feed=600000.0,
        max_rate=[600000.0, 600000.0],
        acceleration=[1e6, 1e6],  # profiles accept at most 1e6
    )
    data["pen"]["settle_s"] = 0.0
    profile = profile_from_dict(data)
    path = folder / "bench-fast.toml"
    path.write_text(profile.to_toml())
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cats", type=int, default=12)
    parser.add_argument("--baud", type=int, default=115200)
    args = parser.parse_args()
    cats = read_npz(QUICKDRAW, "test")[: args.cats]
    folder = Path(tempfile.mkdtemp(prefix="bench-stream-"))
    profile_path = fast_profile(folder)
    profile = load_profile(str(profile_path))
    gcode = folder / "cats.gcode"
    page = build_page(
        [strokes_to_polylines(cat) for cat in cats], PageSettings(profile, profile.paper, profile.landscape)
    )
    gcode.write_text(page.gcode)
    lines = sum(1 for line in gcode.read_text().splitlines() if line.strip() and not line.startswith("("))
    print(
        f"file: {args.cats} Quick, Draw! cats, {lines} lines, {gcode.stat().st_size} bytes; "
        f"link {args.baud} baud = {args.baud / 10:.0f} bytes/s; machine faster than the link"
    )
    results = {}
    for name, send_and_wait in (("character counting", False), ("send-and-wait", True)):
        url = f"sim://?profile={profile_path}&realtime=1&baud={args.baud}"
        started = time.perf_counter()
        report = run_job(gcode, url, profile, send_and_wait=send_and_wait, journal_path=folder / f"{name}.json")
        elapsed = time.perf_counter() - started
        link_use = report.bytes_sent * 10 / args.baud / report.seconds
        results[name] = report.lines / report.seconds
        print(
            f"{name:>19}: {report.lines / report.seconds:7.1f} lines/s, {report.bytes_sent} bytes in "
            f"{report.seconds:.2f} s streaming ({elapsed:.2f} s with connect), link capacity used {link_use:.1%}"
        )
    ratio = results["character counting"] / results["send-and-wait"]
    print(f"character counting / send-and-wait: {ratio:.2f}x lines/s")


if __name__ == "__main__":
    main()
