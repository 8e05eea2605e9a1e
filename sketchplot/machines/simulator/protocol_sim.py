"""pyserial URL handler for ``sim://``: ``serial.serial_for_url("sim://?profile=a4-servo")``.

pyserial finds it as ``<package>.protocol_<scheme>`` once ``sketchplot.machines.simulator`` is
in ``serial.protocol_handler_packages`` (``simulator.register()``). Like pyserial's own handlers
it parses its URL in ``from_url``. The port behaves like a serial port with a GRBL board behind it: reads time out, writes can fail when the "cable" is pulled
(``disconnect_after``), and a host that overflows GRBL's RX buffer gets a SerialException.
"""

from __future__ import annotations

import math
import time
from urllib.parse import parse_qs, urlsplit

from serial.serialutil import PortNotOpenError, SerialBase, SerialException

from sketchplot.core.errors import SketchplotError
from sketchplot.core.profiles import load_profile
from sketchplot.machines.simulator import SCHEME
from sketchplot.machines.simulator.config import URL_OPTIONS, Faults, SimConfig, SimulatorError
from sketchplot.machines.simulator.machine import GrblSimulator, PortGone
from sketchplot.machines.simulator.recorder import save_outputs

_POLL_S = 0.002


class Serial(SerialBase):
    """A serial port whose other end is a ``GrblSimulator``."""

    @staticmethod
    def from_url(url: str) -> SimConfig:
        """``sim://?profile=a4-servo&record=out.json&...`` -> SimConfig; a bad URL is a SimulatorError."""
        parts = urlsplit(url)
        if parts.scheme != SCHEME:
            raise SimulatorError(f"not a simulator URL: {url!r} (expected sim://?option=value&...)")
        options = {key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
        unknown = sorted(set(options) - set(URL_OPTIONS))
        if unknown:
            raise SimulatorError(
                f"{url}: unknown simulator option(s) {', '.join(unknown)} (known: {', '.join(URL_OPTIONS)})"
            )

        def number(key, kind=int):
            try:
                return kind(options[key]) if key in options else None
            except ValueError:
                raise SimulatorError(f"{url}: option {key}={options[key]!r} is not a number") from None

        faults = Faults(
            error_at=number("error_at"),
            error=number("error") or 20,
            alarm_at=number("alarm_at"),
            alarm=number("alarm") or 2,
            disconnect_after=number("disconnect_after"),
            delay_ms=number("delay_ms", float) or 0.0,
            garbage_at=number("garbage_at"),
            reset_at=number("reset_at"),
            boot_ms=number("boot_ms", float) or 0.0,
        )
        work_offset = (0.0, 0.0, 0.0)
        if options.get("work_offset"):
            try:
                values = [float(v) for v in options["work_offset"].split(",")]
            except ValueError:
                raise SimulatorError(
                    f"{url}: option work_offset={options['work_offset']!r} is not X,Y[,Z] in mm"
                ) from None
            if not 2 <= len(values) <= 3 or not all(math.isfinite(v) for v in values):
                raise SimulatorError(f"{url}: option work_offset={options['work_offset']!r} is not X,Y[,Z] in mm")
            work_offset = (values[0], values[1], values[2] if len(values) == 3 else 0.0)
        realtime = bool(number("realtime"))
        profile = load_profile(options.get("profile") or None)
        baud = number("baud") or (profile.baud if realtime else None)
        return SimConfig(profile, faults, baud, options.get("record"), options.get("svg"), realtime, work_offset)

    def open(self):
        if self.is_open:
            raise SerialException("Port is already open.")
        if self._port is None:
            raise SerialException("Port must be configured before it can be used.")
        try:
            config = self.from_url(self.port)
        except SketchplotError as exc:
            raise SerialException(str(exc)) from None
        self.simulator = GrblSimulator(config)
        self._realtime = config.realtime
        self._started = time.monotonic()
        self._received = bytearray()
        self.is_open = True

    def close(self):
        if self.is_open:
            self.is_open = False
            save_outputs(self.simulator)
        super().close()

    def _reconfigure_port(self):
        """Nothing to configure: the simulator's link speed comes from its URL."""

    def _now(self) -> float:
        return time.monotonic() - self._started if self._realtime else self.simulator.clock

    def _pump(self) -> None:
        if not self.is_open:
            raise PortNotOpenError()
        sim = self.simulator
        if sim.gone:
            raise SerialException("simulated GRBL disconnected (device reports readiness to read but returned no data)")
        if sim.rx_overflows and not sim.overflow_reported:
            sim.overflow_reported = True
            raise SerialException(
                f"simulated GRBL's 128-byte RX buffer overflowed: {sim.rx_overflows} byte(s) lost "
                "(the host sent more than GRBL had room for)"
            )
        sim.advance(self._now())
        self._received += sim.take_output(time.monotonic())

    @property
    def in_waiting(self):
        self._pump()
        return len(self._received)

    def read(self, size=1):
        deadline = None if self._timeout is None else time.monotonic() + self._timeout
        while True:
            self._pump()
            if len(self._received) >= size:
                break
            wake = self.simulator.next_event()
            if not self._realtime and wake is not None:
                self.simulator.advance(wake)  # the host waits: the machine gets on with its work
                continue
            if deadline is not None and time.monotonic() >= deadline:
                break
            time.sleep(_POLL_S)
        data = bytes(self._received[:size])
        del self._received[:size]
        return data

    def write(self, data):
        self._pump()
        data = bytes(data)
        try:
            self.simulator.receive(data, self._now())
        except PortGone:
            pass
        self._pump()
        return len(data)

    def reset_input_buffer(self):
        self._pump()
        self._received.clear()

    def reset_output_buffer(self):
        """Bytes are handed to the simulator as they are written: nothing waits here."""

    @property
    def out_waiting(self):
        return 0

    def _update_break_state(self):
        """No break condition on a simulated line."""

    def _update_rts_state(self):
        """No modem lines on a simulated port."""

    def _update_dtr_state(self):
        """No modem lines on a simulated port."""

    @property
    def cts(self):
        return True

    @property
    def dsr(self):
        return True

    @property
    def ri(self):
        return False

    @property
    def cd(self):
        return True
