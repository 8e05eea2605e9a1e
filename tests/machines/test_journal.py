import pytest

from sketchplot.core.grbl.interpreter import Interpreter, Motion, parse_line
from sketchplot.core.profiles import load_profile
from sketchplot.gcode.reader import read_gcode
from sketchplot.machines.journal import (
    Journal,
    JournalError,
    file_digest,
    resume_plan,
    start_line_executed,
)

SERVO = load_profile("a4-servo")
ZAXIS = load_profile("a4-zaxis")
TEXT = "G21\nG90\nM3 S50\nG0 X10 Y10\nM3 S30\nG1 X20 Y10 F3000\nG1 X20 Y20\nG1 X10 Y20\nM3 S50\n"


def run_plan(plan, profile, start=None):
    """Execute a plan on a fresh machine standing at ``start``; return pen-down segments."""
    machine = Interpreter(profile)
    if start is not None:
        machine.position = start
    drawn = []
    for line in plan:
        for event in machine.execute(parse_line(line.text, line.line_no or 0)):
            if isinstance(event, Motion) and event.pen_down:
                drawn.append((event.start[:2], event.end[:2]))
    return drawn


def test_nothing_executed_means_the_whole_file_unchanged():
    blocks = read_gcode(TEXT)
    plan = resume_plan(blocks, set(), SERVO)
    assert [p.text for p in plan] == [b.text for b in blocks]
    assert [p.line_no for p in plan] == list(range(1, 10))


def test_resume_mid_stroke_restores_state_travels_pen_up_and_continues():
    blocks = read_gcode(TEXT)
    plan = resume_plan(blocks, set(range(1, 7)), SERVO)  # lines 1..6 ran: pen is down at (20, 10)
    added = [p.text for p in plan if p.line_no is None]
    assert added[:5] == ["G21", "G90", "G92.1", "M3 S50", "G4 P0.15"]  # absolute mm, no G92, pen up first
    assert "G0 X20.0000 Y10.0000" in added and "M3 S30" in added and "F3000.0000" in added
    assert not [text for text in added if "G53" in text]  # work coordinates, as the file's own moves
    assert [p.line_no for p in plan if p.line_no] == [7, 8, 9]
    # a machine left anywhere (here 100, 100) draws exactly the two remaining segments
    assert run_plan(plan, SERVO, start=(100.0, 100.0, 0.0)) == [
        ((20.0, 10.0), (20.0, 20.0)),
        ((20.0, 20.0), (10.0, 20.0)),
    ]


def test_gaps_after_a_refused_line_and_z_pen_restore():
    text = "G21\nG90\nG0 Z3\nG0 X10 Y10\nG1 Z0 F600\nG1 X20 Y10 F2000\nG1 X20 Y20\nG0 Z3\n"
    blocks = read_gcode(text)
    plan = resume_plan(blocks, {1, 2, 3, 4, 5, 7, 8}, ZAXIS)  # line 6 was refused, the rest ran
    assert "G1 Z0.0000 F600" in [p.text for p in plan]  # the pen goes back down, in work coordinates
    assert [p.line_no for p in plan if p.line_no] == [6]
    assert run_plan(plan, ZAXIS, start=(20.0, 20.0, 3.0)) == [((10.0, 10.0), (20.0, 10.0))]


def test_start_line_and_journal_round_trip(tmp_path):
    path = tmp_path / "a.gcode"
    path.write_text("; header\n" + TEXT)
    blocks = read_gcode(path)
    assert start_line_executed(blocks, 5) == {2, 3, 4}
    journal = Journal(tmp_path / "j.json", str(path), file_digest(path), {2, 3, 4, 7})
    journal.save()
    again = Journal.load(tmp_path / "j.json", path)
    assert again.executed == {2, 3, 4, 7} and not again.complete
    path.write_text(TEXT)
    with pytest.raises(JournalError, match="another version"):
        Journal.load(tmp_path / "j.json", path)
    with pytest.raises(JournalError, match="no journal to resume from"):
        Journal.load(tmp_path / "missing.json", path)


@pytest.mark.parametrize("ran, final_settle", [(set(range(1, 7)), "G4 P0.3"), (set(range(1, 4)), "G4 P0.05")])
def test_resume_settles_as_long_as_the_pen_change_it_restores(ran, final_settle):
    """The lift before the travel waits lift_settle_s; the restored pen waits what its own
    change needs: settle_s when it goes back down, lift_settle_s when it stays up."""
    import dataclasses

    profile = dataclasses.replace(SERVO, pen=dataclasses.replace(SERVO.pen, settle_s=0.3, lift_settle_s=0.05))
    added = [p.text for p in resume_plan(read_gcode(TEXT), ran, profile) if p.line_no is None]
    assert added[3:5] == ["M3 S50", "G4 P0.05"]
    assert added[-1] == final_settle
