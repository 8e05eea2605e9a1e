"""User defaults for the CLI: machine, paper, margin and port, so `sketchplot draw cat` just works.

Precedence, strongest first: command-line option, environment variable
(``SKETCHPLOT_MACHINE``, ``SKETCHPLOT_PORT``, ``SKETCHPLOT_PAPER``), the user config file
``<config dir>/config.toml`` (see ``machines.profiles.user_config_dir``), built-in default.

    # ~/.config/sketchplot/config.toml
    machine = "a3-servo"
    port = "/dev/ttyUSB0"
    paper = "a3"
    margin = 15
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields

from sketchplot.core.errors import SketchplotError
from sketchplot.core.paths import user_config_dir
from sketchplot.core.profiles import DEFAULT_PROFILE


@dataclass(frozen=True)
class UserDefaults:
    machine: str = DEFAULT_PROFILE
    port: str | None = None
    paper: str | None = None  # None: the machine profile's paper
    margin: float = 10.0


ENVIRONMENT = {"machine": "SKETCHPLOT_MACHINE", "port": "SKETCHPLOT_PORT", "paper": "SKETCHPLOT_PAPER"}
MAX_CONFIG_BYTES = 64 * 2**10  # four settings; anything larger is not this file


def load_defaults() -> UserDefaults:
    """Defaults from the config file, overridden by the environment."""
    path = user_config_dir() / "config.toml"
    values: dict = {}
    if path.is_file():
        try:
            if path.stat().st_size > MAX_CONFIG_BYTES:
                raise SketchplotError(
                    f"{path}: {path.stat().st_size} bytes is too large for a config file "
                    f"(at most {MAX_CONFIG_BYTES // 2**10} KiB)"
                )
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise SketchplotError(f"cannot read config file {path}: {exc}") from None
        unknown = set(values) - {f.name for f in fields(UserDefaults)}
        if unknown:
            raise SketchplotError(f"{path}: unknown settings: {', '.join(sorted(unknown))}")
        for key in ("machine", "port", "paper"):
            if key in values and not isinstance(values[key], str):
                raise SketchplotError(f"{path}: {key} must be a string")
        margin = values.get("margin", 0.0)
        if not isinstance(margin, (int, float)) or isinstance(margin, bool) or not 0 <= margin < 1e6:
            raise SketchplotError(f"{path}: margin must be a number of mm >= 0")
    for key, variable in ENVIRONMENT.items():
        if os.environ.get(variable):
            values[key] = os.environ[variable]
    return UserDefaults(**values)
