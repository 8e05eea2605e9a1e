"""Bad files, bad profiles and the faults found against real GRBL 1.1h: each test here failed
before the fix it guards."""

import json
import re
import time

import numpy as np
import pytest
import serial
from click.testing import CliRunner
from test_streamer import assert_drawn_once, sim, two_pen_gcode

from sketchplot.cli import cli
from sketchplot.core.errors import SketchplotError
from sketchplot.core.grbl.interpreter import GCodeError, parse_line
from sketchplot.core.grbl.protocol import parse_status
from sketchplot.core.profiles import ProfileError, load_profile, profile_from_dict
from sketchplot.gcode.reader import pen_paths, read_gcode
from sketchplot.machines.errors import JobInterrupted, NotGrblError
from sketchplot.machines.job import stream_file
from sketchplot.machines.journal import PlanLine, default_journal_path
from sketchplot.machines.link import Grbl
from sketchplot.machines.simulator import register
from sketchplot.machines.simulator.recorder import read_record


def page_document(*lines_mm, page_mm=(297.0, 210.0)):
    import vpype as vp

    mm = vp.convert_length("mm")
    lines = vp.LineCollection([np.asarray(line, dtype=complex) * mm for line in lines_mm])
    return vp.Document(lines, page_size=(page_mm[0] * mm, page_mm[1] * mm))


FAILURE_REPLY = re.compile(rb"error:|ALARM:|Grbl 1\.1|[\x80-\xff]")


class WriteLog:
    """Every write the streamer makes, with what had arrived unread at that moment."""

    def __init__(self, monkeypatch):
        self.writes: list[tuple[float, bytes, bytes]] = []
        original = Grbl.write
        log = self

        def write(grbl, data):
            port = grbl.port
            waiting = getattr(port, "_received", None)
            if waiting is not None:
                port.in_waiting  # noqa: B018 - the simulator's bytes reach the host side
                waiting = bytes(grbl._buffer) + bytes(port._received)
            log.writes.append((time.monotonic(), bytes(data), waiting or b""))
            original(grbl, data)

        monkeypatch.setattr(Grbl, "write", write)

    def lines(self) -> list[bytes]:
        return [data for _, data, _ in self.writes if data.endswith(b"\n")]

    def lines_sent_after_a_failure_arrived(self) -> list[bytes]:
        """Lines written while an error, alarm, banner or noise lay unread (after the wake-up
        newlines, which are written with the power-on banner waiting on purpose)."""
        return [data for _, data, unread in self.writes[1:] if data.endswith(b"\n") and FAILURE_REPLY.search(unread)]


def refused(tmp_path, text, *options):
    path = tmp_path / "job.gcode"
    path.write_text(text, encoding="utf-8")
    record = tmp_path / "r.json"
    result = CliRunner().invoke(cli, ["stream", str(path), "--quiet", "--port", sim("a4-servo", record), *options])
    return result, record


# ---- 1. G-code that changes the machine's settings ------------------------------------------


@pytest.mark.parametrize(
    "line", ["$100=1", "$RST=*", "$RST=$", "$I=mine", "$N0=G0 X400", "$10=0", "$J=G91 X400 F100", "$SLP"]
)
def test_settings_writes_jogs_and_unknown_dollar_lines_are_refused_before_the_port_opens(tmp_path, line):
    result, record = refused(tmp_path, f"G21\nG90\n{line}\nG0 X10 Y10\n")
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1 and "line 3" in result.output
    assert not record.exists()  # nothing was sent


def test_allow_settings_sends_a_settings_write(tmp_path):
    result, _ = refused(tmp_path, "G21\nG90\n$11=0.02\nG0 X10 Y10\n", "--allow-settings")
    assert result.exit_code == 0, result.output
    without, _ = refused(tmp_path, "G21\nG90\n$11=0.02\nG0 X10 Y10\n")
    assert without.exit_code == 1 and "--allow-settings" in without.output


def test_homing_unlock_and_report_queries_stay_allowed(tmp_path):
    result, record = refused(tmp_path, "G21\nG90\n$X\n$$\n$#\n$G\n$I\n$N\n$\nG0 X10 Y10\n")
    assert result.exit_code == 0, result.output
    assert record.exists()


# ---- 2. nothing non-finite, non-ASCII or too long ----------------------------------------


@pytest.mark.parametrize(
    "values, field",
    [
        ({"x_max": "abc"}, "x_max"),
        ({"max_rate": "fast"}, "max_rate"),
        ({"decimals": 2.5}, "decimals"),
        ({"pen": {"up": "high"}}, "pen.up"),
        ({"x_max": float("nan")}, "x_max"),
        ({"x_max": float("inf")}, "x_max"),
        ({"draw_feed": float("nan")}, "draw_feed"),
        ({"acceleration": [800.0, float("inf")]}, "acceleration"),
        ({"draw_feed": 0}, "draw_feed"),
        ({"acceleration": [800.0, -1.0]}, "acceleration"),
        ({"x_min": 10.0, "x_max": 5.0}, "x_max"),
        ({"pen": {"up": 30.0, "down": 30.0}}, "pen.up"),
        ({"homing": "yes"}, "homing"),
        ({"pen": "servo"}, "[pen]"),
        ({"program_end": "G0 X400"}, "program_end"),
        ({"program_end": "M2\n$100=1"}, "program_end"),
        ({"steps_per_mm": [0, 80]}, "steps_per_mm"),
    ],
)
def test_bad_profile_values_give_one_line_naming_the_field(values, field):
    with pytest.raises(ProfileError) as info:
        profile_from_dict(values, source="mine.toml")
    message = str(info.value)
    assert "\n" not in message and message.startswith("mine.toml: ") and field in message


def test_writer_never_writes_a_non_finite_number():
    from sketchplot.gcode.writer import format_number, write_gcode

    with pytest.raises(SketchplotError, match="nan"):
        format_number(float("nan"), 2)
    with pytest.raises(SketchplotError, match="not a finite number"):
        write_gcode(page_document([10 + 10j, complex(float("nan"), 5)]), load_profile("a4-servo"))


def test_writer_leaves_out_moves_shorter_than_a_step():
    from sketchplot.gcode.writer import write_gcode

    profile = load_profile("a4-zaxis")  # 3 decimals, 80 steps/mm: 0.0125 mm per step
    gcode = write_gcode(page_document([10 + 10j, 10.002 + 10j, 20 + 10j]), profile)
    assert [line for line in gcode.splitlines() if line.startswith("G1 X")] == ["G1 X20 Y200 F2000"]


def test_reader_takes_only_ascii_digits():
    with pytest.raises(GCodeError, match="non-ASCII"):
        parse_line("G1 X\u0661\u0665\u0668 F100", 4)  # Arabic-Indic 158
    assert parse_line("G1 X10 (caf\u00e9 au lait)").text == "G1X10"  # a comment is never sent


@pytest.mark.parametrize(
    "line, words",
    [("G1 X\u0661\u0665\u0668 F100", "non-ASCII"), ("G0 X1." + "0" * 190, "79"), ("G0\u00a0X10", "non-ASCII")],
)
def test_non_ascii_and_overlong_lines_are_refused_before_the_port_opens(tmp_path, line, words):
    result, record = refused(tmp_path, f"G21\nG90\n{line}\n")
    assert result.exit_code == 1 and words in result.output and result.output.count("\n") == 1, result.output
    assert not record.exists()


@pytest.mark.parametrize("fault", ["error_at=40&error=20", "alarm_at=60&alarm=2", "garbage_at=30", "reset_at=70"])
def test_no_job_line_leaves_after_a_failure_has_arrived(tmp_path, gcode_file, monkeypatch, fault):
    log = WriteLog(monkeypatch)
    with pytest.raises(SketchplotError):
        stream_file(gcode_file("a4-servo", 2), sim("a4-servo", tmp_path / "r.json", fault), load_profile("a4-servo"))
    assert len(log.lines()) > 25
    assert log.lines_sent_after_a_failure_arrived() == []


def test_a_record_file_that_cannot_be_written_is_an_error_not_exit_0(tmp_path, gcode_file):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    path = gcode_file("a4-servo", 1)
    result = CliRunner().invoke(cli, ["stream", str(path), "--quiet", "--port", sim("a4-servo", blocker / "r.json")])
    assert result.exit_code == 1 and "cannot write the simulator's record" in result.output
    assert result.output.count("\n") == 1


def test_timeout_covers_the_wait_for_the_banner():
    register()
    port = serial.serial_for_url("sim://?boot_ms=600", timeout=0.02)
    grbl = Grbl(port, "sim", timeout=1.5)
    grbl.connect(load_profile("a4-servo"), wake_s=0.1)  # boots in 0.6 s: longer than the wake-up wait
    assert grbl.version == "1.1h"
    port.close()
    slow = Grbl(serial.serial_for_url("sim://?boot_ms=600", timeout=0.02), "sim", timeout=0.2)
    with pytest.raises(NotGrblError, match="no GRBL banner"):
        slow.connect(load_profile("a4-servo"), wake_s=0.1)


# ---- 3. found against GRBL 1.1h -------------------------------------------------------------


def test_bf_evidence_does_not_count_a_block_for_a_move_under_a_step():
    """GRBL plans nothing for the 0.002 mm move: of the 2 pending blocks one is X20's."""
    from sketchplot.machines.tracker import ExecutionTracker, prepare_lines

    profile = load_profile("a4-zaxis")
    texts = ["G21", "G90", "G0 Z3", "G0 X10 Y10", "G1 Z0 F600", "G1 X20 F2000", "G1 X20.002", "G1 X30"]
    plan = [PlanLine(t, i + 1) for i, t in enumerate(texts)]
    tracker = ExecutionTracker(planner_blocks=15)
    for item in prepare_lines(plan, profile):
        tracker.acknowledge(item)
    tracker.on_status(parse_status("<Run|MPos:10.000,10.000,0.000|Bf:13,128|FS:2000,0>"))
    assert 6 not in tracker.executed_lines(plan)  # X20 is still in the planner
    assert tracker.executed_lines(plan) == {1, 2, 3, 4, 5}


def test_a_work_offset_does_not_hide_the_pen_change_pause(tmp_path):
    profile = load_profile("a4-servo")
    path, (layer1, layer2) = two_pen_gcode(tmp_path, profile)
    record = tmp_path / "r.json"
    pauses = []
    stream_file(path, sim("a4-servo", record, "work_offset=5,5"), profile, on_pause=pauses.append, timeout=2.0)
    assert [p.next_layer for p in pauses] == [2]
    shifted = [line + 5.0 for line in layer1 + layer2]
    assert [line.tolist() for line in read_record(record)] == [line.tolist() for line in shifted]


@pytest.mark.parametrize("profile_name", ["a4-servo", "a4-zaxis"])
def test_resume_with_a_work_offset_continues_where_the_pen_stopped(tmp_path, gcode_file, profile_name):
    profile = load_profile(profile_name)
    path = gcode_file(profile_name, 2)
    record = tmp_path / "r.json"
    with pytest.raises(SketchplotError):
        stream_file(path, sim(profile_name, record, "work_offset=5,5&error_at=150"), profile)
    stream_file(path, sim(profile_name, record, "work_offset=5,5"), profile, resume=True)
    intended = [line + 5.0 for line in pen_paths(read_gcode(path), profile)]
    assert_drawn_once(read_record(record), intended)


def test_a_work_offset_that_pushes_the_job_off_the_machine_is_refused(tmp_path, gcode_file):
    path = tmp_path / "edge.gcode"
    path.write_text("G21\nG90\nM3 S50\nG0 X290 Y10\n")
    with pytest.raises(SketchplotError, match="outside the work area"):
        stream_file(path, sim("a4-servo", tmp_path / "r.json", "work_offset=10,0"), load_profile("a4-servo"))
    assert read_record(tmp_path / "r.json") == []


def test_check_mode_answers_homing_with_error_8_and_check_skips_it(tmp_path, gcode_file):
    register()
    port = serial.serial_for_url("sim://?profile=a3-servo", timeout=0.05)
    port.write(b"$X\n$C\n$H\n")
    assert port.read(200).decode().split("\r\n")[-2] == "error:8"
    port.close()
    profile = load_profile("a3-servo")
    path = gcode_file("a3-servo", 1)
    assert any(block.text == "$H" for block in read_gcode(path))
    stream_file(path, sim("a3-servo", tmp_path / "r.json"), profile, check=True)
    assert len(read_record(tmp_path / "r.json")) > 5


def test_the_servo_is_lifted_before_homing(tmp_path, gcode_file, monkeypatch):
    log = WriteLog(monkeypatch)
    stream_file(gcode_file("a3-servo", 1), sim("a3-servo", tmp_path / "r.json"), load_profile("a3-servo"))
    lines = log.lines()
    assert lines.index(b"M3 S60\n") < lines.index(b"$H\n")


def test_the_servo_is_lifted_right_after_a_stop_reset(tmp_path, gcode_file, monkeypatch):
    log = WriteLog(monkeypatch)

    def interrupt(progress):
        if progress.lines_done == 100:
            raise KeyboardInterrupt

    with pytest.raises(JobInterrupted, match="pen up"):
        stream_file(
            gcode_file("a4-servo", 2),
            sim("a4-servo", tmp_path / "r.json"),
            load_profile("a4-servo"),
            on_progress=interrupt,
        )
    reset = next(i for i, (_, data, _) in enumerate(log.writes) if data == b"\x18")
    after = [(when, data) for when, data, _ in log.writes[reset + 1 :] if data.endswith(b"\n")]
    assert after[0][1] == b"M3 S50\n"
    assert after[0][0] - log.writes[reset][0] < 0.04  # no drain or status round trip first


def test_ctrl_c_names_the_line_being_drawn(tmp_path, gcode_file):
    profile = load_profile("a4-servo")
    path = gcode_file("a4-servo", 4)

    def interrupt(progress):
        if progress.lines_done == 333:
            raise KeyboardInterrupt

    with pytest.raises(JobInterrupted) as info:
        stream_file(path, sim("a4-servo", tmp_path / "r.json"), profile, on_progress=interrupt)
    named = int(re.search(r"interrupted at line (\d+)", str(info.value))[1])
    journal = json.loads(default_journal_path(path).read_text())
    executed = {n for first, last in journal["executed"] for n in range(first, last + 1)}
    first_not_run = min(b.line_no for b in read_gcode(path) if b.line_no not in executed)
    assert named == first_not_run


def negative_space_profile(tmp_path):
    path = tmp_path / "stock.toml"
    path.write_text(
        'name = "stock"\nx_min = -297.0\nx_max = 0.0\ny_min = -210.0\ny_max = 0.0\nmachine_space = "negative"\n'
    )
    return path


def test_soft_limits_follow_the_machine_space(tmp_path):
    register()
    stock = serial.serial_for_url(f"sim://?profile={negative_space_profile(tmp_path)}", timeout=0.05)
    stock.read(100)
    stock.write(b"G0 X-10 Y-10\n")
    assert stock.read(100) == b"ok\r\n"
    stock.write(b"G0 X10 Y10\n")
    assert stock.read(100).startswith(b"ALARM:2")
    positive = serial.serial_for_url("sim://?profile=a4-servo", timeout=0.05)
    positive.read(100)
    positive.write(b"G0 X-1 Y5\n")
    assert positive.read(100).startswith(b"ALARM:2")
    with pytest.raises(ProfileError, match="machine_space = 'negative'"):
        profile_from_dict({"machine_space": "negative"})  # 0..297 cannot be stock GRBL's travel


def test_a_stock_grbl_profile_draws_in_negative_space(tmp_path):
    from sketchplot.gcode.writer import write_gcode

    profile_path = negative_space_profile(tmp_path)
    profile = load_profile(str(profile_path))
    gcode = tmp_path / "neg.gcode"
    gcode.write_text(write_gcode(page_document([20 + 20j, 60 + 20j, 60 + 50j]), profile))
    stream_file(gcode, f"sim://?profile={profile_path}&record={tmp_path / 'r.json'}", profile)
    [drawn] = read_record(tmp_path / "r.json")
    np.testing.assert_allclose(drawn, [[-277, -20], [-237, -20], [-237, -50]])
