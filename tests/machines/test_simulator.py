import dataclasses
import json

import numpy as np
import pytest
import serial

from sketchplot.core.profiles import load_profile
from sketchplot.gcode.estimate import estimate_gcode
from sketchplot.gcode.reader import pen_paths, read_gcode
from sketchplot.machines.job import stream_file
from sketchplot.machines.link import Grbl
from sketchplot.machines.simulator import register
from sketchplot.machines.simulator.machine import BANNER, GrblSimulator
from sketchplot.machines.simulator.protocol_sim import Serial
from sketchplot.machines.simulator.recorder import read_record


def open_sim(query="", timeout=0.05):
    register()
    port = serial.serial_for_url(f"sim://?{query}", timeout=timeout)
    assert port.read(len(BANNER)) == BANNER
    return port


def talk(port, data: bytes) -> list[str]:
    port.write(data)
    return port.read(4096).decode("latin-1").split("\r\n")[:-1]


def test_url_options_are_checked():
    config = Serial.from_url("sim://?profile=a4-zaxis&error_at=3&error=22&realtime=1")
    assert config.profile.name == "a4-zaxis" and config.faults.error_at == 3 and config.faults.error == 22
    assert config.baud == 115200 and config.realtime
    register()
    with pytest.raises(serial.SerialException, match="unknown simulator option"):
        serial.serial_for_url("sim://?profil=a4-servo")
    with pytest.raises(serial.SerialException, match="not a number"):
        serial.serial_for_url("sim://?error_at=x")


def test_answers_like_grbl():
    port = open_sim()
    assert talk(port, b"\r\n") == ["ok", "ok"]  # GRBL answers every line end, empty ones too
    assert talk(port, b"G1 X10\n") == ["error:22"]  # no feed rate yet
    assert talk(port, b"G5\n") == ["error:20"]
    assert talk(port, b"G1 X1.2.3 F100\n") == ["error:2"]
    assert talk(port, b"G1 X" + b"1" * 80 + b"\n") == ["error:11"]  # GRBL's 80-byte line buffer
    assert talk(port, b"$Z\n") == ["error:3"]
    assert talk(port, b"$I\n") == ["[VER:1.1h.20190825:]", "[OPT:V,15,128]", "ok"]
    (report,) = talk(port, b"?")
    assert report.startswith("<Idle|MPos:0.000,0.000,0.000|FS:0,0")
    assert talk(port, b"$10=3\n") == ["ok"]
    (report,) = talk(port, b"?")
    assert "|Bf:15,128|" in report


def test_soft_limit_alarm_locks_until_reset_and_unlock():
    port = open_sim("profile=a4-servo")
    assert talk(port, b"G0 X400 Y10\n") == ["ALARM:2", "[MSG:Reset to continue]"]
    assert talk(port, b"G0 X10\n") == []  # everything but reset is ignored
    assert talk(port, b"\x18") == ["", "Grbl 1.1h ['$' for help]", "[MSG:'$H'|'$X' to unlock]"]
    assert talk(port, b"G0 X10\n") == ["error:9"]
    assert talk(port, b"$X\n") == ["[MSG:Caution: Unlocked]", "ok"]
    ok, report = talk(port, b"G0 X10\n?")
    assert ok == "ok" and report.startswith("<Run|MPos:0.000,0.000,0.000|FS:8000,0")  # G0 at max rate
    port.read(1)  # waiting lets the move finish
    assert talk(port, b"?")[0].startswith("<Idle|MPos:10.000,0.000,0.000|FS:0,0")


def test_check_mode_parses_without_moving_and_leaves_with_a_reset():
    port = open_sim()
    assert talk(port, b"$C\n") == ["[MSG:Enabled]", "ok"]
    assert talk(port, b"G1 X10 Y10 F100\n?")[0] == "ok"
    assert talk(port, b"G2 X10 F100\n") == ["error:35"]
    assert talk(port, b"?")[0].startswith("<Check|MPos:0.000,0.000,0.000")
    assert talk(port, b"$C\n") == ["[MSG:Disabled]", "ok", "", "Grbl 1.1h ['$' for help]"]
    assert port.simulator.polylines() == []


def test_ok_means_planned_and_the_machine_runs_while_the_host_waits():
    port = open_sim()
    talk(port, b"$10=3\nM3 S30\nG4 P0.1\n")
    lines = "".join(f"G1 X{10 + i} Y10 F600\n" for i in range(5)).encode()
    port.write(lines)
    assert port.read(20) == b"ok\r\n" * 5  # planned at once: 5 blocks waiting
    port.write(b"?")
    report = port.read_until(b">")
    assert b"Bf:10," in report and b"MPos:0.000,0.000" in report
    port.timeout = 0.01
    port.read(100)  # the host waits: simulated time moves on and the planner drains
    assert b"<Idle|MPos:14.000,10.000" in bytes(talk(port, b"?")[0], "latin-1")


def test_feed_hold_cycle_start_and_reset_in_motion():
    port = open_sim()
    port.write(b"M3 S30\nG4 P0.1\nG1 X100 F600\nG1 X200\n")
    assert port.read(16) == b"ok\r\n" * 4
    port.write(b"!?")
    assert port.read_until(b">").startswith(b"<Hold:0|MPos:0.000,0.000,0.000|FS:0,30")
    port.read(100)  # waiting changes nothing while held
    assert port.simulator.polylines() == []
    port.write(b"~")
    port.simulator.advance(port.simulator.clock + 5.0)  # 5 s at 600 mm/min: 50 mm
    assert talk(port, b"\x18")[:2] == ["ALARM:3", ""]  # reset while moving loses position
    np.testing.assert_allclose(port.simulator.polylines()[0], [[0, 0], [50, 0]])
    assert talk(port, b"G0 X0\n") == ["error:9"]


def test_host_that_ignores_the_rx_buffer_is_caught(tmp_path, cat_gcode):
    record = tmp_path / "r.json"
    port = open_sim(f"record={record}")
    with pytest.raises(serial.SerialException, match="RX buffer overflowed"):
        port.write(cat_gcode("a4-servo", 2).encode())  # all at once, no character counting
        port.read(10)
    port.close()
    assert json.loads(record.read_text())["rx_overflows"] > 0


def test_record_appends_and_svg(tmp_path):
    record, svg = tmp_path / "r.json", tmp_path / "d.svg"
    for x in (10, 20):
        port = open_sim(f"record={record}&svg={svg}")
        talk(port, f"M3 S30\nG1 X{x} Y5 F1000\nM3 S50\n".encode())
        port.read(10)
        port.close()
    lines = read_record(record)
    assert [line.tolist() for line in lines] == [[[0, 0], [10, 5]], [[0, 0], [20, 5]]]  # each open: power-on at 0,0
    assert "<svg" in svg.read_text()


def test_disconnect_after_bytes():
    port = open_sim("disconnect_after=10")
    port.write(b"G0 X1\n")
    with pytest.raises(serial.SerialException, match="disconnected"):
        port.write(b"G0 X2\n")
        port.read(10)


@pytest.mark.parametrize("profile_name", ["a4-servo", "a4-zaxis"])
def test_simulator_behind_a_pty_draws_the_file(tmp_path, cat_gcode, profile_name):
    """The real pyserial device path: a pseudo-terminal with the simulator on the far end."""
    from sketchplot.machines.simulator.pty import serve_on_pty

    profile = load_profile(profile_name)
    text = cat_gcode(profile_name, 2)
    path = tmp_path / "cats.gcode"
    path.write_text(text)
    device, stop = serve_on_pty(f"sim://?profile={profile_name}&record={tmp_path / 'r.json'}")
    try:
        assert device.startswith("/dev/")
        report = stream_file(path, device, profile, timeout=2.0)
    finally:
        stop()
    assert report.lines == len(read_gcode(path))
    recorded = read_record(tmp_path / "r.json")
    expected = pen_paths(read_gcode(path), profile)
    assert len(recorded) == len(expected)
    for got, want in zip(recorded, expected):
        np.testing.assert_allclose(got, want, atol=1e-9)


def test_grbl_connect_refuses_a_device_that_is_not_grbl():
    from sketchplot.machines.errors import NotGrblError

    register()
    loopback = serial.serial_for_url("loop://", timeout=0.02)  # echoes our own bytes back
    with pytest.raises(NotGrblError, match="no GRBL banner") as info:
        Grbl(loopback, "loop://", timeout=0.2).connect(load_profile("a4-servo"), wake_s=0.2)
    assert info.value.exit_code == 2


def run_until_idle(realtime: int, sends: list[tuple[float, bytes]]) -> float:
    """Simulated seconds until the machine stops, each line received at its clock time over an
    instant link, so only motion takes time; no sleeping, the clock is driven directly."""
    config = dataclasses.replace(Serial.from_url(f"sim://?profile=a4-servo&realtime={realtime}"), baud=None)
    simulator = GrblSimulator(config)
    for when, line in sends:
        simulator.advance(when)
        simulator.receive(line, when)
    while (when := simulator.next_event()) is not None:
        simulator.advance(when)
    return simulator.clock


def test_timed_mode_accelerates_cruises_and_brakes():
    """a4-servo: 800 mm/s^2, 3000 mm/min = 50 mm/s; realtime=0 keeps length / feed."""
    ramp_s, ramp_mm = 50 / 800, 50**2 / (2 * 800)
    analytic = 2 * ramp_s + (100 - 2 * ramp_mm) / 50
    assert run_until_idle(1, [(0.0, b"G1 X100 F3000\n")]) == pytest.approx(analytic)
    assert run_until_idle(0, [(0.0, b"G1 X100 F3000\n")]) == pytest.approx(2.0)


def test_timed_mode_corners_and_stops_at_the_end_of_the_buffer():
    square = "G1 X50 F3000\nG1 Y50\nG1 X0\nG1 Y0\n"
    seconds = run_until_idle(1, [(0.0, square.encode())])
    assert seconds > 200 / 50  # corners slow it down below the feed
    assert seconds == pytest.approx(estimate_gcode(square, load_profile("a4-servo")).seconds)
    # a block whose successor has not arrived yet plans to a stop, as GRBL does
    rest_to_rest_50 = 2 * 50 / 800 + (50 - 2 * 50**2 / 1600) / 50
    late = run_until_idle(1, [(0.0, b"G1 X50 F3000\n"), (0.5, b"G1 X100\n")])
    assert late == pytest.approx(2 * rest_to_rest_50)
    together = run_until_idle(1, [(0.0, b"G1 X50 F3000\nG1 X100\n")])
    assert together == pytest.approx(run_until_idle(1, [(0.0, b"G1 X100 F3000\n")]))


def test_m0_finishes_the_planned_moves_then_holds_until_cycle_start():
    port = open_sim()
    port.write(b"M3 S30\nG4 P0.1\nG1 X10 F600\nM0\nG1 X20\n")
    assert port.read(12) == b"ok\r\n" * 3  # the M0 is answered only after the pause
    port.read(100)  # the host waits: X10 runs, then GRBL holds at the M0
    assert talk(port, b"?")[0].startswith("<Hold:0|MPos:10.000,0.000,0.000")
    port.read(100)  # a person takes their time: nothing moves, no answer
    assert talk(port, b"?")[0].startswith("<Hold:0|MPos:10.000,0.000,0.000")
    assert port.simulator.pauses == [{"received_line": 4, "position": [10.0, 0.0, 0.0], "drawn": 1}]
    port.write(b"~")
    assert port.read(8) == b"ok\r\n" * 2  # M0's ok, then the line after it runs
    port.read(100)
    assert talk(port, b"?")[0].startswith("<Idle|MPos:20.000,0.000,0.000")
    np.testing.assert_allclose(port.simulator.polylines()[-1], [[10, 0], [20, 0]])


def test_m0_in_check_mode_does_not_hold():
    port = open_sim()
    assert talk(port, b"$C\nG1 X10 F600\nM0\n")[-2:] == ["ok", "ok"]
    assert talk(port, b"?")[0].startswith("<Check|") and port.simulator.pauses == []
