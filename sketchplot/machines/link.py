"""The link to one GRBL board: open the port, wake the board, insist on its banner, then line
I/O, real-time bytes, status reports and ``$`` commands."""

from __future__ import annotations

import time
from collections.abc import Callable

import serial

from sketchplot.core.grbl.codes import describe_alarm, describe_error
from sketchplot.core.grbl.protocol import BANNER, PLANNER_BLOCKS, SOFT_RESET, STATUS_QUERY, Status, parse_status
from sketchplot.core.profiles import MachineProfile
from sketchplot.gcode.restore import pen_up_lines
from sketchplot.machines import simulator
from sketchplot.machines.errors import GrblJobError, LinkError, NotGrblError

WAKE_S = 2.5  # an Arduino reboots when the port opens; --timeout can only make this longer


def open_port(port: str, baud: int, timeout: float = 0.02) -> serial.SerialBase:
    """A device path or any pyserial URL (``sim://`` included), locked against other programs."""
    simulator.register()  # sim:// URLs: the GRBL simulator
    try:
        return serial.serial_for_url(port, baudrate=baud, timeout=timeout, write_timeout=5, exclusive=True)
    except (serial.SerialException, ValueError, OSError) as exc:
        raise NotGrblError(f"cannot open {port}: {_port_problem(exc)}") from None


def _port_problem(exc: Exception) -> str:
    """What went wrong opening a port, in words a user can act on."""
    text = str(exc)
    errno = getattr(exc, "errno", None)
    if errno == 2 or "No such file" in text:
        return "no such port (is the plotter plugged in? try ls /dev/ttyUSB* /dev/ttyACM*)"
    if errno == 13 or "Permission denied" in text:
        return "permission denied (add yourself to the 'dialout' group, then log in again)"
    if errno in (11, 16) or "exclusively lock" in text or "busy" in text.lower():
        return "port busy (another program, e.g. a G-code sender or serial monitor, has it open)"
    return text


class Grbl:
    """Line I/O, real-time commands and status reports for one connected GRBL."""

    def __init__(self, port: serial.SerialBase, name: str = "", timeout: float = 5.0):
        self.port = port
        self.name = name or getattr(port, "port", "")
        self.timeout = timeout
        self.version = ""
        self._buffer = bytearray()
        self.last_rx = time.monotonic()
        self.wco: tuple[float, ...] | None = None
        self.work_offset: tuple[float, float, float] = (0.0, 0.0, 0.0)  # G54 + tool length, from $#
        self.planner_blocks = PLANNER_BLOCKS
        self.messages: list[str] = []

    def write(self, data: bytes) -> None:
        try:
            self.port.write(data)
        except (serial.SerialException, OSError) as exc:
            raise LinkError(f"{self.name}: port failed while writing: {exc}") from None

    def read_line(self, wait: float) -> str | None:
        """The next complete line from GRBL (without CR LF), or None after ``wait`` seconds."""
        deadline = time.monotonic() + wait
        while True:
            line = self._complete_line()
            if line is not None:
                return line
            chunk = self._read(lambda port: max(1, port.in_waiting))
            if not chunk and time.monotonic() >= deadline:
                return None

    def ready_line(self) -> str | None:
        """A line that has already arrived, or None at once: the check before every write."""
        line = self._complete_line()
        if line is None and self._read(lambda port: port.in_waiting):
            line = self._complete_line()
        return line

    def _complete_line(self) -> str | None:
        end = self._buffer.find(b"\n")
        if end < 0:
            return None
        raw = bytes(self._buffer[:end]).rstrip(b"\r")
        del self._buffer[: end + 1]
        self.last_rx = time.monotonic()
        return raw.decode("ascii", errors="replace")

    def _read(self, size: Callable[[serial.SerialBase], int]) -> bytes:
        try:
            count = size(self.port)
            chunk = self.port.read(count) if count else b""
        except (serial.SerialException, OSError) as exc:
            raise LinkError(f"{self.name}: port vanished: {exc}") from None
        self._buffer += chunk
        return chunk

    def status(self, line: str) -> Status:
        report = parse_status(line, self.wco)
        self.wco = report.wco
        return report

    def query_status(self, wait: float | None = None) -> Status:
        """Ask '?' and return the report (other lines are kept in ``messages``)."""
        self.write(STATUS_QUERY)
        deadline = time.monotonic() + (self.timeout if wait is None else wait)
        while time.monotonic() < deadline:
            line = self.read_line(0.05)
            if line and line.startswith("<"):
                return self.status(line)
            if line:
                self.messages.append(line)
        raise LinkError(f"{self.name}: GRBL sent no status report within {self.timeout if wait is None else wait:g} s")

    def wait_banner(self, wait: float, awake_gives_up: bool = False) -> str | None:
        """The version from GRBL's startup banner; with ``awake_gives_up``, None as soon as
        GRBL answers ``ok`` (it is awake and its banner went by before the port was opened)."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            line = self.read_line(0.05)
            if line is None:
                continue
            match = BANNER.search(line)
            if match:
                self.version = match.group(1)
                return match.group(1)
            self.messages.append(line)
            if awake_gives_up and line == "ok":
                return None
        return None

    def command(self, text: str, wait: float | None = None) -> list[str]:
        """Send one line and wait for its ok (send-and-wait); messages before it are returned."""
        self.write(text.encode() + b"\n")
        deadline = time.monotonic() + (self.timeout if wait is None else wait)
        replies = []
        while time.monotonic() < deadline:
            line = self.read_line(0.05)
            if line is None or line.startswith("<") or not line:
                continue
            if line == "ok":
                return replies
            if line.startswith("error:"):
                code = int(line[6:])
                raise GrblJobError(f"GRBL refused {text!r}: {describe_error(code)} ({line})")
            if line.startswith("ALARM:"):
                code = int(line[6:])
                raise GrblJobError(f"GRBL alarm after {text!r}: {describe_alarm(code)} ({line})")
            replies.append(line)
        raise LinkError(f"{self.name}: no answer to {text!r} within {self.timeout if wait is None else wait:g} s")

    def connect(self, profile: MachineProfile, wake_s: float = WAKE_S) -> None:
        """Wake GRBL, insist on its 1.1 banner, leave it idle and unlocked with a servo pen up
        (lifted before homing, so the pen is powered while the machine moves), and read its
        work offset and planner size."""
        wake_s = max(wake_s, self.timeout)  # --timeout covers the wait for the banner too
        self.write(b"\r\n\r\n")
        version = self.wait_banner(wake_s, awake_gives_up=True)  # an Arduino reboots on open
        if version is None:
            self.write(SOFT_RESET)
            version = self.wait_banner(wake_s)
        if version is None:
            heard = "; ".join(m for m in self.messages[-3:] if m.strip()) or "nothing"
            raise NotGrblError(
                f"{self.name}: no GRBL banner after wake-up and reset (heard: {heard!r}); is this a GRBL 1.1 board at {self.port.baudrate} baud?"
            )
        if not version.startswith("1.1"):
            raise NotGrblError(f"{self.name}: Grbl {version} found; sketchplot speaks GRBL 1.1's protocol")
        patience = max(self.timeout, wake_s)
        while self.read_line(0.05) is not None:  # the wake-up newlines' oks, startup messages
            pass
        state = self.query_status(patience).state
        servo = profile.pen.method == "servo"
        if state not in ("Idle", "Check", "Alarm"):
            raise NotGrblError(f"{self.name}: GRBL is busy ({state}); wait for it to finish or reset it")
        if state == "Alarm" and (servo or not profile.homing):
            self.command("$X", patience)
        if servo and state != "Check":
            for text in pen_up_lines(profile):
                self.command(text, patience)
        if state == "Alarm" and profile.homing:
            self.command("$H", wait=120)
        if state != "Check":  # GRBL answers $# and $I only when idle or in alarm
            self._read_parameters(patience)

    def _read_parameters(self, patience: float) -> None:
        """The G54 and tool length offsets (``$#``), so reported positions can be compared with
        the job, and the planner size (``$I``'s OPT field), for the Bf evidence."""
        offsets = {}
        for reply in self.command("$#", patience):
            name, _, values = reply.strip("[]").partition(":")
            try:
                offsets[name] = [float(v) for v in values.split(":")[0].split(",")]
            except ValueError:
                continue
        g54 = offsets.get("G54", [0.0, 0.0, 0.0])[:3]
        tool = offsets.get("TLO", [0.0])[0]
        if len(g54) == 3:
            self.work_offset = (g54[0], g54[1], g54[2] + tool)
            g92 = offsets.get("G92", [0.0, 0.0, 0.0])
            self.wco = tuple(w + o for w, o in zip(self.work_offset, g92))
        for reply in self.command("$I", patience):
            if reply.startswith("[OPT:"):
                fields = reply[5:-1].split(",")
                if len(fields) >= 2 and fields[1].isdigit():
                    self.planner_blocks = int(fields[1])

    def close(self) -> None:
        try:
            self.port.close()
        except (serial.SerialException, OSError):
            pass
