"""The GRBL 1.1 simulator behind ``sim://`` URLs, so the streamer runs unchanged against it.

``machine``: GRBL's protocol and machine state; ``protocol_sim``: the pyserial URL handler
(it parses the URL in ``Serial.from_url``, as pyserial's own handlers do); ``recorder``: what
the pen drew, as JSON and SVG; ``pty``: a simulator behind a pseudo-terminal.

pyserial finds the handler as ``<package>.protocol_sim`` once ``register()`` has put this
package in ``serial.protocol_handler_packages``; the link does that when it opens a port.
"""

from __future__ import annotations

import serial

SCHEME = "sim"
HANDLER_PACKAGE = __name__  # pyserial imports <package>.protocol_sim for sim://


def register() -> None:
    """Make ``sim://`` URLs known to ``serial.serial_for_url``."""
    if HANDLER_PACKAGE not in serial.protocol_handler_packages:
        serial.protocol_handler_packages.append(HANDLER_PACKAGE)


def is_simulator(port: str) -> bool:
    """Whether a port name is a simulator URL (no one to ask before it moves, no pen to change)."""
    return port.startswith(f"{SCHEME}://")
