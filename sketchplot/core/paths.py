"""Where the user's files live: one config folder holds settings, machine profiles, models and jobs."""

from __future__ import annotations

import os
import time
from pathlib import Path


def user_config_dir() -> Path:
    """``$SKETCHPLOT_CONFIG_DIR`` or ``$XDG_CONFIG_HOME/sketchplot`` or ``~/.config/sketchplot``."""
    if os.environ.get("SKETCHPLOT_CONFIG_DIR"):
        return Path(os.environ["SKETCHPLOT_CONFIG_DIR"])
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "sketchplot"


def user_profile_dir() -> Path:
    return user_config_dir() / "machines"


def user_model_dir() -> Path:
    """Models found by class name, before the shipped ones."""
    return user_config_dir() / "models"


def new_job_path(name: str) -> Path:
    """Where a drawing command keeps the G-code it streams, so a failed job can be resumed."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return user_config_dir() / "jobs" / f"{name.replace(' ', '_')}-{stamp}.gcode"
