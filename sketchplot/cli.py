"""The ``sketchplot`` command line: thin click commands over the library layers.

Every command lives here; each does argument parsing and printing only and calls into
``sketchplot.model``, ``sketchplot.plotter``, ``sketchplot.gcode`` or ``sketchplot.machines``.
A ``SketchplotError`` raised anywhere becomes ``Error: <one line>`` and a non-zero exit code.
"""

from __future__ import annotations

import sys

import click

from sketchplot.errors import SketchplotError


class _Group(click.Group):
    """A click group that reports user errors in one line instead of a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SketchplotError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=_Group)
@click.version_option(package_name="sketchplot")
def cli():
    """Draw neural-network sketches with a GRBL pen plotter."""


# ---- machines (profiles) -------------------------------------------------------------------


@cli.group(cls=_Group, invoke_without_command=True)
@click.pass_context
def machines(ctx):
    """List machine profiles (shipped and user), or show one."""
    if ctx.invoked_subcommand is not None:
        return
    from sketchplot.machines.profiles import available_profiles, load_profile

    for name, path in sorted(available_profiles().items()):
        profile = load_profile(str(path))
        click.echo(
            f"{name:<14} {profile.width:g} x {profile.height:g} mm  {profile.pen.method:<5}  "
            f"{profile.description}"
        )


@machines.command("show")
@click.argument("name")
def machines_show(name):
    """Print one machine profile as TOML (NAME or a path to a .toml file)."""
    from sketchplot.machines.profiles import load_profile

    profile = load_profile(name)
    click.echo(f"# {profile.source}")
    click.echo(profile.to_toml(), nl=False)


# ---- plot pipeline: plot, estimate (issue 3) ----------------------------------------------


# ---- machine layer: stream (issue 4) ------------------------------------------------------


# ---- model: train, sample, eval, models (issue 5) -----------------------------------------


# ---- draw (issue 6) -----------------------------------------------------------------------


if __name__ == "__main__":
    cli()
