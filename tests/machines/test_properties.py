"""Property-based tests: random G-code lines and random profile values end in a result or one
clean SketchplotError, never a traceback; streamed lines never overflow GRBL's RX buffer, are
ASCII, and stop the moment a failure arrives."""

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_hardening import WriteLog

from sketchplot.core.errors import SketchplotError
from sketchplot.core.grbl.interpreter import GCodeError, parse_line
from sketchplot.core.grbl.protocol import RX_BUFFER_BYTES
from sketchplot.core.profiles import MachineProfile, ProfileError, profile_from_dict
from sketchplot.machines.job import stream_file

WORDS = st.sampled_from(["G0", "G1", "G4", "G90", "G91", "G21", "M3", "M5", "X", "Y", "Z", "F", "S", "P", "$"])
NUMBERS = st.one_of(
    st.integers(-400, 400).map(str),
    st.floats(-400, 400, allow_nan=False).map(lambda v: f"{v:.3f}"),
    st.sampled_from(["\u0661\u0662", "1e3", "nan", "--1", ".", "9" * 90]),
)
PIECES = st.one_of(
    WORDS,
    NUMBERS,
    st.sampled_from(
        [
            " ",
            "(note)",
            "(caf\u00e9)",
            ";x",
            "\u00a0",
            "\t",
            "$H",
            "$X",
            "$$",
            "$100=1",
            "$RST=*",
            "$J=X1",
            "M0",
            "?",
            "~",
            "\x18",
            "é",
        ]
    ),
)
LINES = st.lists(PIECES, max_size=8).map("".join)


@given(LINES)
@settings(max_examples=300, deadline=None)
def test_the_reader_gives_a_block_or_a_grbl_error(line):
    try:
        block = parse_line(line, 1)
    except GCodeError as exc:
        assert "\n" not in str(exc)
        return
    if block is not None:
        assert block.text.isascii()
        assert all(math.isfinite(value) for _, value in block.words)


JOB_LINES = st.one_of(
    LINES,
    st.builds(lambda x, y: f"G1 X{x} Y{y} F3000", st.integers(0, 290), st.integers(0, 200)),
    st.builds(lambda x, y: f"G0 X{x}.5 Y{y}.25", st.integers(0, 290), st.integers(0, 200)),
    st.sampled_from(["M3 S30", "M3 S50", "G4 P0.1", "G21", "G90"]),
)
FAULTS = st.one_of(
    st.just(""),
    st.builds(lambda k: f"error_at={k}", st.integers(1, 40)),
    st.builds(lambda k: f"alarm_at={k}&alarm=9", st.integers(1, 40)),
    st.builds(lambda k: f"garbage_at={k}", st.integers(1, 40)),
    st.builds(lambda k: f"reset_at={k}", st.integers(1, 40)),
)


@pytest.mark.slow
@given(st.lists(JOB_LINES, min_size=1, max_size=40), FAULTS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_streaming_random_lines_never_overflows_sends_ascii_only_and_stops_at_a_failure(
    tmp_path, monkeypatch, lines, fault
):
    from sketchplot.core.profiles import load_profile
    from sketchplot.machines.link import Grbl

    path = tmp_path / "random.gcode"
    path.write_text("\n".join(["G21", "G90", "M3 S50", *lines]) + "\n", encoding="utf-8")
    log = WriteLog(monkeypatch)
    ports = []
    original = Grbl.__init__

    def keep_port(grbl, port, *args, **kwargs):
        ports.append(port)
        original(grbl, port, *args, **kwargs)

    monkeypatch.setattr(Grbl, "__init__", keep_port)
    try:
        stream_file(path, f"sim://?{fault}", load_profile("a4-servo"), timeout=1.0, journal_path=tmp_path / "j.json")
    except SketchplotError as exc:
        assert "\n" not in str(exc)
    finally:
        monkeypatch.undo()
    for _, data, _ in log.writes:
        assert data.isascii()
    assert log.lines_sent_after_a_failure_arrived() == []
    for port in ports:
        assert port.simulator.rx_overflows == 0 and port.simulator.rx_peak <= RX_BUFFER_BYTES


TOML_VALUES = st.recursive(
    st.one_of(
        st.booleans(),
        st.integers(-(10**20), 10**20),
        st.floats(),
        st.text(max_size=12),
        st.sampled_from(["servo", "z", "bottom-left", "top-right", "positive", "negative", "M2", "a4"]),
    ),
    lambda children: st.lists(children, max_size=3),
    max_leaves=4,
)
PROFILE_KEYS = st.sampled_from(
    [
        "name",
        "description",
        "x_min",
        "x_max",
        "y_min",
        "y_max",
        "origin",
        "paper",
        "landscape",
        "draw_feed",
        "travel_feed",
        "max_rate",
        "acceleration",
        "steps_per_mm",
        "junction_deviation",
        "decimals",
        "homing",
        "soft_limits",
        "machine_space",
        "baud",
        "park",
        "program_end",
        "colour",
    ]
)
PEN_KEYS = st.sampled_from(["method", "up", "down", "settle_s", "z_feed", "width"])


@given(
    st.dictionaries(PROFILE_KEYS, TOML_VALUES, max_size=6),
    st.one_of(st.dictionaries(PEN_KEYS, TOML_VALUES, max_size=3), TOML_VALUES),
)
@settings(max_examples=400, deadline=None)
def test_random_profile_values_give_a_profile_or_one_profile_error(values, pen):
    data = {**values, "pen": pen}
    try:
        profile = profile_from_dict(data, source="random.toml")
    except ProfileError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("random.toml: ")
        return
    assert isinstance(profile, MachineProfile)
    numbers = [
        profile.x_min,
        profile.x_max,
        profile.y_min,
        profile.y_max,
        profile.draw_feed,
        *profile.max_rate,
        *profile.acceleration,
        profile.pen.up,
        profile.pen.down,
    ]
    assert all(math.isfinite(v) for v in numbers) and profile.width > 0 and profile.height > 0


@pytest.mark.parametrize("text", ["x_max = nan", "x_max = inf", "draw_feed = -inf", "max_rate = [nan, 1.0]"])
def test_toml_nan_and_inf_are_refused(tmp_path, text):
    from sketchplot.core.profiles import load_profile

    path = tmp_path / "p.toml"
    path.write_text(text + "\n")
    with pytest.raises(ProfileError, match="finite"):
        load_profile(str(path))
