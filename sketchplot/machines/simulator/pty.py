"""A simulator behind a pseudo-terminal, so the real pyserial device code path talks to it."""

from __future__ import annotations

import os
import pty
import select
import threading
import time
import tty
from collections.abc import Callable

from sketchplot.machines.simulator.machine import GrblSimulator
from sketchplot.machines.simulator.protocol_sim import Serial
from sketchplot.machines.simulator.recorder import save_outputs


def serve_on_pty(url: str = "sim://") -> tuple[str, Callable[[], None]]:
    """Run a simulator behind a pseudo-terminal: returns (device path, stop function).

    The real pyserial device code path talks to the slave end; a thread feeds the master end
    to the simulator on the wall clock. ``stop()`` ends the thread and saves the record."""
    config = Serial.from_url(url)
    simulator = GrblSimulator(config, timed=config.realtime)
    master, slave = pty.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    stopping = threading.Event()
    started = time.monotonic()

    def pump():
        while not stopping.is_set() and not simulator.gone:
            now = time.monotonic() - started
            simulator.advance(now)
            out = simulator.take_output(time.monotonic())
            if out:
                os.write(master, out)
            wake = simulator.next_event()
            timeout = 0.01 if wake is None else min(0.01, max(0.0, wake - now))
            readable, _, _ = select.select([master], [], [], timeout)
            if readable:
                try:
                    data = os.read(master, 4096)
                except OSError:
                    return
                simulator.receive(data, time.monotonic() - started)

    thread = threading.Thread(target=pump, name="grbl-sim-pty", daemon=True)
    thread.start()

    def stop():
        stopping.set()
        thread.join(timeout=2)
        save_outputs(simulator)
        os.close(master)
        os.close(slave)

    stop.simulator = simulator
    return path, stop
