import json
from collections import Counter

import numpy as np
import pytest
from click.testing import CliRunner

from sketchplot.cli import cli
from sketchplot.core.grbl.protocol import parse_status
from sketchplot.core.profiles import load_profile
from sketchplot.gcode.reader import pen_paths, read_gcode
from sketchplot.machines.errors import GrblJobError, JobInterrupted, LinkError
from sketchplot.machines.job import stream_file
from sketchplot.machines.journal import JournalError, default_journal_path
from sketchplot.machines.simulator.recorder import read_record

PROFILES = ("a4-servo", "a3-servo", "a4-zaxis")


def segments(polylines) -> Counter:
    """Pen-down segments as an orientation-free multiset (0.1 µm grid)."""
    counts = Counter()
    for line in polylines:
        for a, b in zip(line[:-1], line[1:]):
            counts[tuple(sorted((tuple(np.round(a, 4)), tuple(np.round(b, 4)))))] += 1
    return counts


def sim(profile_name, record, options=""):
    return f"sim://?profile={profile_name}&record={record}" + (f"&{options}" if options else "")


def test_parse_status_fields():
    status = parse_status("<Hold:0|MPos:1.000,2.500,-3.000|Bf:12,100|FS:500,30|WCO:1.000,0.500,0.000>")
    assert (status.state, status.substate, status.mpos) == ("Hold", 0, (1.0, 2.5, -3.0))
    assert status.wpos == (0.0, 2.0, -3.0) and (status.planner_free, status.rx_free) == (12, 100)
    assert (status.feed, status.speed) == (500.0, 30.0)
    later = parse_status("<Run|WPos:0.000,2.000,0.000|FS:10,0>", wco=status.wco)
    assert later.mpos == (1.0, 2.5, 0.0) and later.planner_free is None


@pytest.mark.parametrize("profile_name", PROFILES)
def test_every_profile_draws_exactly_the_gcode_path(tmp_path, gcode_file, profile_name):
    profile = load_profile(profile_name)
    path = gcode_file(profile_name, 6)
    record = tmp_path / "r.json"
    report = stream_file(path, sim(profile_name, record), profile)
    expected = pen_paths(read_gcode(path), profile)
    recorded = read_record(record)
    assert len(expected) > 30 and len(recorded) == len(expected)
    for got, want in zip(recorded, expected):
        np.testing.assert_allclose(got, want, atol=1e-9)
    assert json.loads(record.read_text())["rx_overflows"] == 0
    journal = json.loads(default_journal_path(path).read_text())
    assert journal["complete"] and report.executed == {b.line_no for b in read_gcode(path)}


def test_send_and_wait_draws_the_same(tmp_path, gcode_file):
    path = gcode_file("a4-servo", 2)
    record = tmp_path / "r.json"
    report = stream_file(path, sim("a4-servo", record), load_profile("a4-servo"), send_and_wait=True)
    assert segments(read_record(record)) == segments(pen_paths(read_gcode(path), load_profile("a4-servo")))
    assert report.bytes_sent == sum(len(b.text) + 1 for b in read_gcode(path))


FAULTS = [
    ("error_at=120&error=20", GrblJobError, 3, "GRBL error:20 at line [0-9]+ "),  # fault lines count connect's too
    ("alarm_at=200&alarm=2", GrblJobError, 3, "ALARM:2 at line [0-9]+ "),
    ("alarm_at=150&alarm=9", GrblJobError, 3, "ALARM:9"),
    ("reset_at=250", LinkError, 4, "reset unexpectedly"),
    ("garbage_at=300", LinkError, 4, "unexpected answer"),
    ("disconnect_after=4000", LinkError, 4, "disconnected"),
    ("delay_ms=250", LinkError, 4, "stopped answering"),
]


@pytest.mark.parametrize("profile_name", ["a4-servo", "a4-zaxis"])
@pytest.mark.parametrize("options, error_type, exit_code, message", FAULTS)
def test_fault_stops_safely_and_resume_completes_the_drawing(
    tmp_path, gcode_file, profile_name, options, error_type, exit_code, message
):
    profile = load_profile(profile_name)
    path = gcode_file(profile_name, 4)
    record = tmp_path / "r.json"
    with pytest.raises(error_type, match=message) as info:
        stream_file(path, sim(profile_name, record, options), profile, timeout=0.1 if "delay" in options else 5.0)
    assert info.value.exit_code == exit_code and info.value.resumable  # the journal can finish it
    first = read_record(record)
    if "disconnect" not in options:
        assert "pen up" in str(info.value)
    stream_file(path, sim(profile_name, record), profile, resume=True)
    intended = segments(pen_paths(read_gcode(path), profile))
    union = segments(read_record(record))
    assert len(first) > 0 and intended - union == Counter()  # nothing lost
    assert set(union) == set(intended)  # nothing drawn that is not in the file
    # Drawn twice: the segment in progress at most. A port that vanishes can no longer say
    # where the machine got to: what ran after the last status report (<= 0.2 s) is redrawn.
    assert sum((union - intended).values()) <= (3 if "disconnect" in options else 1)


def test_resume_for_a_finished_job_is_refused(tmp_path, gcode_file):
    path = gcode_file("a4-servo", 1)
    stream_file(path, sim("a4-servo", tmp_path / "r.json"), load_profile("a4-servo"))
    with pytest.raises(JournalError, match="nothing to resume"):
        stream_file(path, sim("a4-servo", tmp_path / "r.json"), load_profile("a4-servo"), resume=True)


def test_ctrl_c_holds_resets_lifts_the_pen_and_resume_finishes(tmp_path, gcode_file):
    profile = load_profile("a4-servo")
    path = gcode_file("a4-servo", 4)
    record = tmp_path / "r.json"

    def interrupt(progress):
        if progress.lines_done == 333:
            raise KeyboardInterrupt

    with pytest.raises(JobInterrupted, match="interrupted at line") as info:
        stream_file(path, sim("a4-servo", record), profile, on_progress=interrupt)
    assert info.value.exit_code == 130 and "machine stopped, pen up" in str(info.value)
    stream_file(path, sim("a4-servo", record), profile, resume=True)
    assert segments(read_record(record)) == segments(pen_paths(read_gcode(path), profile))


def test_start_line_restores_state_and_draws_the_rest(tmp_path, gcode_file):
    profile = load_profile("a4-zaxis")
    path = gcode_file("a4-zaxis", 2)
    blocks = read_gcode(path)
    start = blocks[len(blocks) // 2].line_no
    record = tmp_path / "r.json"
    stream_file(path, sim("a4-zaxis", record), profile, start_line=start)
    rest = segments(read_record(record))
    everything = segments(pen_paths(blocks, profile))
    before = segments(pen_paths([b for b in blocks if b.line_no < start], profile))
    assert rest + before == everything and len(rest) > 0


def test_check_mode_first_then_stream(tmp_path, gcode_file):
    profile = load_profile("a4-servo")
    path = gcode_file("a4-servo", 1)
    record = tmp_path / "r.json"
    stream_file(path, sim("a4-servo", record), profile, check=True)
    assert segments(read_record(record)) == segments(pen_paths(read_gcode(path), profile))
    with pytest.raises(GrblJobError, match="check mode: GRBL error:33"):
        stream_file(path, sim("a4-servo", tmp_path / "c.json", "error_at=20&error=33"), profile, check=True)
    assert read_record(tmp_path / "c.json") == []  # check mode moves nothing


def test_cli_stream_exit_codes_and_resume(tmp_path, gcode_file):
    path = gcode_file("a4-servo", 2)
    record = tmp_path / "r.json"
    runner = CliRunner()
    failed = runner.invoke(cli, ["stream", str(path), "--port", sim("a4-servo", record, "error_at=50"), "--quiet"])
    assert failed.exit_code == 3
    assert "Error: GRBL error:20 at line" in failed.output and "run again with --resume" in failed.output
    done = runner.invoke(cli, ["stream", str(path), "--port", sim("a4-servo", record), "--resume"])
    assert done.exit_code == 0, done.output
    assert "done:" in done.output and "estimated" in done.output  # the progress bar label
    profile = load_profile("a4-servo")
    assert segments(read_record(record)) == segments(pen_paths(read_gcode(path), profile))
    both = runner.invoke(cli, ["stream", str(path), "--port", "sim://", "--resume", "--start-line", "3"])
    assert both.exit_code == 2 and "either --resume or --start-line" in both.output
    nogrbl = runner.invoke(cli, ["stream", str(path), "--port", "/dev/nonexistent-tty", "--quiet"])
    assert nogrbl.exit_code == 2 and "cannot open /dev/nonexistent-tty" in nogrbl.output


@pytest.mark.slow
def test_ctrl_c_mid_segment_in_real_time_redraws_only_that_segment(tmp_path):
    """A feed hold stops the pen inside a segment; resume redraws that one segment only."""
    import _thread
    import threading

    profile = load_profile("a4-servo")
    path = tmp_path / "square.gcode"
    path.write_text(
        "G21\nG90\nM3 S50\nG0 X10 Y10\nM3 S30\nG1 X40 Y10 F9000\nG1 X40 Y40\nG1 X10 Y40\nG1 X10 Y10\nM3 S50\n"
    )  # 30 mm sides at 150 mm/s: 0.2 s each
    record = tmp_path / "r.json"
    timer = threading.Timer(0.3, _thread.interrupt_main)  # 0.3 s after the pen went down

    def start_clock(progress):
        if progress.lines_done == 5 and not timer.is_alive():
            timer.start()

    with pytest.raises(JobInterrupted, match="machine stopped, pen up"):
        stream_file(path, sim("a4-servo", record, "realtime=1"), profile, on_progress=start_clock)
    timer.cancel()
    first = read_record(record)
    journal = json.loads(default_journal_path(path).read_text())
    stopped_on = journal["partial"]["line"]
    stream_file(path, sim("a4-servo", record), profile, resume=True)
    intended = pen_paths(read_gcode(path), profile)
    assert len(first) == 1 and 6 <= stopped_on <= 9  # stopped inside a side of the square
    assert_drawn_once(read_record(record), intended)


def assert_drawn_once(recorded, intended, redrawn_mm=0.5):
    """Every intended stroke is drawn, nothing else is, and at most ``redrawn_mm`` twice."""
    from shapely.geometry import MultiLineString

    drawn = MultiLineString([line.tolist() for line in recorded])
    wanted = MultiLineString([line.tolist() for line in intended])
    assert wanted.difference(drawn.buffer(1e-3)).length < 1e-3, "something was not drawn"
    assert drawn.difference(wanted.buffer(1e-3)).length < 1e-3, "something not in the file was drawn"
    twice = sum(_length(line) for line in recorded) - sum(_length(line) for line in intended)
    assert twice <= redrawn_mm, f"{twice:.2f} mm drawn twice"


def _length(line) -> float:
    return float(np.sum(np.hypot(*np.diff(np.asarray(line), axis=0).T)))


def test_after_an_alarm_the_machine_is_unlocked_idle_and_pen_up(tmp_path, gcode_file):
    """Seen from the simulator's side of a pty: what the streamer leaves behind."""
    from sketchplot.machines.simulator.pty import serve_on_pty

    for profile_name in ("a4-servo", "a4-zaxis"):
        profile = load_profile(profile_name)
        device, stop = serve_on_pty(f"sim://?profile={profile_name}&alarm_at=60&alarm=2")
        try:
            with pytest.raises(GrblJobError, match="ALARM:2"):
                stream_file(gcode_file(profile_name, 1), device, profile, timeout=2.0)
            machine = stop.simulator
            assert not machine.alarm and not machine.planner
            assert machine.interpreter.pen_down is False
        finally:
            stop()


def test_status_reports_prove_which_planned_lines_ran():
    """ok only means planned: Bf (planner blocks free) and MPos tell how far the machine got."""
    from sketchplot.machines.journal import PlanLine
    from sketchplot.machines.tracker import ExecutionTracker, prepare_lines

    profile = load_profile("a4-zaxis")
    texts = ["G21", "G90", "G0 Z3", "G0 X10 Y10", "G1 Z0 F600", "G1 X20 F2000", "G1 X30", "G1 X40", "G1 X50"]
    plan = [PlanLine(t, i + 1) for i, t in enumerate(texts)]
    tracker = ExecutionTracker(planner_blocks=15)
    for item in prepare_lines(plan, profile):
        tracker.acknowledge(item)  # all answered ok
    assert tracker.executed_lines(plan) == set()  # ok alone proves nothing
    tracker.on_status(parse_status("<Run|WPos:0,0,0|Bf:12,128|FS:2000,0>"))  # 3 blocks pending
    assert tracker.executed_lines(plan) == {1, 2, 3, 4, 5, 6}  # lines 7-9 hold the 3 blocks
    tracker.on_status(parse_status("<Run|MPos:35.000,10.000,0.000|FS:2000,0>"))  # inside X30->X40
    assert tracker.executed_lines(plan) == {1, 2, 3, 4, 5, 6, 7}
    assert tracker.stopped_inside((35.0, 10.0, 0.0)).line_no == 8
    tracker.on_status(parse_status("<Idle|MPos:50.000,10.000,0.000|FS:0,0>"))
    assert tracker.executed_lines(plan) == set(range(1, 10))


def test_the_tracker_reads_positions_in_work_coordinates():
    """With a G54 offset, MPos minus the offset is the job's position."""
    from sketchplot.machines.journal import PlanLine
    from sketchplot.machines.tracker import ExecutionTracker, prepare_lines

    texts = ["G21", "G90", "G0 Z3", "G0 X10 Y10", "G1 Z0 F600", "G1 X20 F2000", "G1 X30"]
    plan = [PlanLine(t, i + 1) for i, t in enumerate(texts)]
    tracker = ExecutionTracker(planner_blocks=15)
    for item in prepare_lines(plan, load_profile("a4-zaxis")):
        tracker.acknowledge(item)
    tracker.on_status(parse_status("<Run|MPos:125.000,110.000,0.000|FS:2000,0>"), work_offset=(100.0, 100.0, 0.0))
    assert tracker.executed_lines(plan) == {1, 2, 3, 4, 5, 6}  # inside X20->X30 of the job


def test_a_synchronising_line_proves_the_lines_before_it():
    from sketchplot.machines.journal import PlanLine
    from sketchplot.machines.tracker import ExecutionTracker, prepare_lines

    plan = [PlanLine(t, i + 1) for i, t in enumerate(["G21", "G90", "G0 X10", "G4 P0.1", "G0 X20"])]
    tracker = ExecutionTracker(planner_blocks=15)
    proven = []
    tracker.on_executed = lambda: proven.append(set(tracker.executed))
    for item in prepare_lines(plan, load_profile("a4-servo")):
        tracker.acknowledge(item)
    assert tracker.executed_lines(plan) == {1, 2, 3, 4} and proven


def test_a_file_outside_the_work_area_is_refused_before_anything_is_sent(tmp_path):
    from click.testing import CliRunner

    from sketchplot.cli import cli

    gcode = tmp_path / "far.gcode"
    gcode.write_text("G21 G90\nM3 S50\nG0 X10 Y10\nG0 X400 Y10\n")
    record = tmp_path / "drawn.json"
    result = CliRunner().invoke(cli, ["stream", str(gcode), "--quiet", "--port", f"sim://?record={record}"])
    assert result.exit_code == 1
    assert "line 4: 'G0 X400 Y10' moves to (400, 10) mm, outside the work area of 'a4-servo'" in result.output
    assert not record.exists()  # the port was never opened


def two_pen_gcode(tmp_path, profile):
    """A tiny two-layer document (two strokes for pen 1, one for pen 2) as a G-code file."""
    import vpype as vp

    from sketchplot.gcode.writer import to_machine_layers, write_gcode

    mm = vp.convert_length("mm")
    document = vp.Document(page_size=(297 * mm, 210 * mm))
    document.add(
        vp.LineCollection([np.array([20 + 20j, 60 + 20j, 60 + 50j]) * mm, np.array([80 + 80j, 100 + 90j]) * mm]), 1
    )
    document.add(vp.LineCollection([np.array([150 + 100j, 180 + 120j, 150 + 150j]) * mm]), 2)
    path = tmp_path / "two-pens.gcode"
    path.write_text(write_gcode(document, profile))
    return path, [paths for _, paths in to_machine_layers(document, profile)]


def as_lists(polylines):
    return [np.asarray(line).tolist() for line in polylines]


@pytest.mark.parametrize("profile_name", ["a4-servo", "a4-zaxis"])
def test_pen_change_holds_after_layer_one_asks_once_and_finishes_layer_two(tmp_path, profile_name):
    """Streamed by the real Streamer on a simulated port, so the prompt can look at the machine."""
    from sketchplot.machines.journal import Journal, file_digest, resume_plan
    from sketchplot.machines.link import Grbl, open_port
    from sketchplot.machines.streamer import Streamer

    profile = load_profile(profile_name)
    path, (layer1, layer2) = two_pen_gcode(tmp_path, profile)
    blocks = read_gcode(path)
    port = open_port(sim(profile_name, tmp_path / "r.json"), profile.baud)
    grbl = Grbl(port, "sim")
    grbl.connect(profile)
    seen = []

    def on_pause(info):
        simulator = port.simulator
        seen.append(
            (
                info,
                simulator._state(),
                simulator.machine_position,
                as_lists(simulator.polylines()),
                [item.event for item in simulator.planner],
            )
        )

    journal = Journal(tmp_path / "j.json", str(path), file_digest(path))
    Streamer(grbl, profile, journal=journal, on_pause=on_pause).run(resume_plan(blocks, set(), profile))
    assert len(seen) == 1
    info, state, position, drawn, planned = seen[0]
    m0_line = next(b.line_no for b in blocks if b.text == "M0")
    assert (info.number, info.total, info.line_no, info.note, info.next_layer) == (
        1,
        1,
        m0_line,
        "pen change: layer 2",
        2,
    )
    assert state == "Hold:0" and planned == []  # held, nothing of layer 2 planned yet
    assert position[:2] == pytest.approx(profile.park_position)
    assert drawn == as_lists(layer1)  # layer 1 finished, up to its last segment
    assert as_lists(port.simulator.polylines()) == as_lists(layer1 + layer2)
    grbl.close()


def test_stream_file_pen_change_is_recorded_where_it_happened(tmp_path):
    profile = load_profile("a4-servo")
    path, (layer1, layer2) = two_pen_gcode(tmp_path, profile)
    record = tmp_path / "r.json"
    pauses = []
    report = stream_file(path, sim("a4-servo", record), profile, check=True, on_pause=pauses.append)
    assert [p.next_layer for p in pauses] == [2]  # check mode ($C) first: GRBL does not hold there
    assert as_lists(read_record(record)) == as_lists(layer1 + layer2)
    [held] = json.loads(record.read_text())["pauses"]
    assert held["drawn"] == len(layer1) and held["position"][:2] == pytest.approx(profile.park_position)
    assert report.executed == {b.line_no for b in read_gcode(path)}


class Killed(Exception):
    """The sender dies at the prompt (power cut, kill -9): nothing runs after it."""


@pytest.mark.parametrize("stop", [Killed, KeyboardInterrupt])
def test_a_job_stopped_at_the_pen_change_resumes_with_layer_two_only(tmp_path, stop):
    profile = load_profile("a4-servo")
    path, (layer1, layer2) = two_pen_gcode(tmp_path, profile)
    record = tmp_path / "r.json"

    def die(info):
        raise stop

    expected = Killed if stop is Killed else JobInterrupted
    with pytest.raises(expected) as info:
        stream_file(path, sim("a4-servo", record), profile, on_pause=die)
    if stop is KeyboardInterrupt:
        assert info.value.exit_code == 130 and "machine stopped, pen up" in str(info.value)
    assert as_lists(read_record(record)) == as_lists(layer1)
    journal = json.loads(default_journal_path(path).read_text())
    assert not journal["complete"]
    pauses = []
    stream_file(path, sim("a4-servo", record), profile, resume=True, on_pause=pauses.append)
    assert len(pauses) == 1  # asked again for pen 2: the M0 itself had not been resumed
    assert as_lists(read_record(record)) == as_lists(layer1 + layer2)  # layer 1 not redrawn
    second = json.loads(record.read_text())["pauses"][-1]
    assert second["drawn"] == len(layer1)  # the resumed job paused before drawing anything


def test_a_pen_change_without_a_prompt_is_refused_before_the_port_opens(tmp_path):
    from sketchplot.machines.errors import PenChangeError

    profile = load_profile("a4-servo")
    path, _ = two_pen_gcode(tmp_path, profile)
    record = tmp_path / "r.json"
    with pytest.raises(PenChangeError) as info:
        stream_file(path, sim("a4-servo", record), profile)
    message = str(info.value)
    assert "\n" not in message and "pauses 1 time(s) for a pen change" in message and "pen change: layer 2" in message
    assert not record.exists()


def test_cli_stream_continues_at_the_pen_change_on_the_simulator(tmp_path):
    profile = load_profile("a4-servo")
    path, (layer1, layer2) = two_pen_gcode(tmp_path, profile)
    record = tmp_path / "r.json"
    result = CliRunner().invoke(cli, ["stream", str(path), "--port", sim("a4-servo", record)])
    assert result.exit_code == 0, result.output
    assert result.output.count("pen change (layer 2): simulator continues") == 1
    assert as_lists(read_record(record)) == as_lists(layer1 + layer2)


@pytest.mark.parametrize("answer", ["\n", ""])  # Enter; end of input (as Ctrl-C at the prompt)
def test_cli_stream_asks_for_the_pen_on_a_real_port(tmp_path, answer):
    """A pty with the simulator behind it is a real device path: the CLI must ask, not go on."""
    from sketchplot.machines.simulator.pty import serve_on_pty

    profile = load_profile("a4-servo")
    path, (layer1, layer2) = two_pen_gcode(tmp_path, profile)
    record = tmp_path / "r.json"
    device, stop = serve_on_pty(f"sim://?profile=a4-servo&record={record}")
    try:
        result = CliRunner().invoke(cli, ["stream", str(path), "--port", device, "--machine", "a4-servo"], input=answer)
    finally:
        stop()
    assert result.output.count("Put in the pen for layer 2, then press Enter") == 1
    if answer:
        assert result.exit_code == 0, result.output
        assert as_lists(read_record(record)) == as_lists(layer1 + layer2)
    else:
        assert result.exit_code == 130 and "machine stopped, pen up" in result.output
        assert as_lists(read_record(record)) == as_lists(layer1)
