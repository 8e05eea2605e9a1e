"""What the simulated pen drew: the ``record=`` JSON (appended to, run after run) and the ``svg=`` picture."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from sketchplot.core.atomic import atomic_open, atomic_write_text
from sketchplot.core.profiles import MachineProfile
from sketchplot.machines.simulator.config import SimulatorError
from sketchplot.machines.simulator.machine import GrblSimulator


def save_outputs(simulator: GrblSimulator) -> None:
    """Write the ``record`` JSON (appending to an existing one) and the ``svg`` if asked;
    a file that cannot be written is a SimulatorError, so the job does not end in silence."""
    polylines = simulator.polylines()
    if simulator.config.record:
        path = Path(simulator.config.record)
        data = {"polylines": [], "rx_overflows": 0, "pauses": []}
        try:
            if path.exists():
                data.update(json.loads(path.read_text()))
            data["pauses"] += [
                {**pause, "drawn": pause["drawn"] + len(data["polylines"])} for pause in simulator.pauses
            ]
            data["polylines"] += [line.tolist() for line in polylines]
            data["rx_overflows"] += simulator.rx_overflows
            atomic_write_text(path, json.dumps(data))
        except (OSError, ValueError, TypeError, AttributeError, KeyError) as exc:
            raise SimulatorError(f"cannot write the simulator's record {path}: {exc}") from None
    if simulator.config.svg:
        try:
            write_svg(simulator.config.svg, polylines, simulator.profile)
        except OSError as exc:
            raise SimulatorError(f"cannot write the simulator's SVG {simulator.config.svg}: {exc}") from None


def write_svg(path: str | os.PathLike, polylines: list[np.ndarray], profile: MachineProfile) -> None:
    """What the pen drew, as an SVG of the work area seen from above (machine y up)."""
    import vpype as vp

    document = vp.Document(
        page_size=(profile.width * vp.convert_length("mm"), profile.height * vp.convert_length("mm"))
    )
    scale = vp.convert_length("mm")
    lines = [((xy[:, 0] - profile.x_min) + 1j * (profile.y_max - xy[:, 1])) * scale for xy in polylines]
    document.add(vp.LineCollection(lines), 1)
    with atomic_open(path, "w") as handle:
        vp.write_svg(handle, document)


def read_record(path: str | os.PathLike) -> list[np.ndarray]:
    """Polylines of a ``record=`` file."""
    return [np.asarray(line, dtype=float) for line in json.loads(Path(path).read_text())["polylines"]]
