"""GRBL 1.1's error and alarm codes with their meanings (from GRBL 1.1's interface docs),
so a failed job can say what went wrong in words instead of ``error:22``; and which lines
make GRBL drain its planner before answering (the streamer's proof that earlier lines ran,
the simulator's behaviour)."""

from sketchplot.core.grbl.interpreter import Dwell, Pause

ERRORS = {
    1: "G-code words consist of a letter and a value; letter was not found",
    2: "missing the expected G-code word value or numeric value format is not valid",
    3: "Grbl '$' system command was not recognized or supported",
    4: "negative value received for an expected positive value",
    5: "homing cycle failure: homing is not enabled via settings",
    6: "minimum step pulse time must be greater than 3 usec",
    7: "an EEPROM read failed; auto-restoring affected EEPROM to default values",
    8: "Grbl '$' command cannot be used unless Grbl is IDLE",
    9: "G-code commands are locked out during alarm or jog state",
    10: "soft limits cannot be enabled without homing also enabled",
    11: "max characters per line exceeded; the line was not executed",
    12: "Grbl '$' setting value causes the step rate to exceed the maximum supported",
    13: "safety door detected as opened and door state initiated",
    14: "build info or startup line exceeded EEPROM line length limit; line not stored",
    15: "jog target exceeds machine travel; jog command has been ignored",
    16: "jog command has no '=' or contains prohibited g-code",
    17: "laser mode requires PWM output",
    20: "unsupported or invalid g-code command found in block",
    21: "more than one g-code command from same modal group found in block",
    22: "feed rate has not yet been set or is undefined",
    23: "g-code command in block requires an integer value",
    24: "more than one g-code command that requires axis words found in block",
    25: "repeated g-code word found in block",
    26: "no axis words found in block for g-code command or current modal state which requires them",
    27: "line number value is invalid",
    28: "g-code command is missing a required value word",
    29: "G59.x work coordinate systems are not supported",
    30: "G53 only allowed with G0 and G1 motion modes",
    31: "axis words found in block when no command or current modal state uses them",
    32: "G2 and G3 arcs require at least one in-plane axis word",
    33: "motion command target is invalid",
    34: "arc radius value is invalid",
    35: "G2 and G3 arcs require at least one in-plane offset word",
    36: "unused value words found in block",
    37: "G43.1 dynamic tool length offset is not assigned to configured tool length axis",
    38: "tool number greater than max supported value",
}

ALARMS = {
    1: "hard limit triggered; machine position is likely lost due to sudden halt, re-homing is highly recommended",
    2: "soft limit alarm: G-code motion target exceeds machine travel; machine position retained, alarm may be safely unlocked",
    3: "reset while in motion; machine position is likely lost due to sudden halt, re-homing is highly recommended",
    4: "probe fail: the probe is not in the expected initial state before starting probe cycle",
    5: "probe fail: probe did not contact the workpiece within the programmed travel",
    6: "homing fail: the active homing cycle was reset",
    7: "homing fail: safety door was opened during homing cycle",
    8: "homing fail: pull off travel failed to clear limit switch",
    9: "homing fail: could not find limit switch within search distances",
}

# Alarms after which GRBL blocks everything until a soft reset ("[MSG:Reset to continue]").
CRITICAL_ALARMS = (1, 2)


def describe_error(code: int) -> str:
    return ERRORS.get(code, "unknown error code")


def describe_alarm(code: int) -> str:
    return ALARMS.get(code, "unknown alarm code")


def is_sync(block, events, spindle_before: tuple[bool, float], spindle_after: tuple[bool, float]) -> bool:
    """GRBL empties its planner before it answers these: a dwell, a program pause (M0, answered
    only after cycle start) or end, a change of spindle state or of S while the spindle runs
    (servo pens; not with axis words, where laser mode would skip it)."""
    if any(isinstance(e, (Dwell, Pause)) for e in events):
        return True
    if any(letter == "M" and value in (2, 30) for letter, value in block.words):
        return True
    changed = spindle_before[0] != spindle_after[0] or (spindle_after[0] and spindle_before[1] != spindle_after[1])
    return changed and not any(letter in "XYZ" for letter, _ in block.words)
