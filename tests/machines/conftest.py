"""G-code of real Quick, Draw! cats for the shipped machines, made by the real pipeline
(``plot_page`` -> ``write_gcode``)."""

import pytest

from sketchplot.core.profiles import load_profile


@pytest.fixture(scope="session")
def cat_gcode(real_cats):
    """cat_gcode(profile_name, count) -> G-code text of a grid of ``count`` real cats."""
    from sketchplot.gcode.writer import write_gcode
    from sketchplot.plotter.pipeline import plot_page

    made: dict[tuple[str, int], str] = {}

    def make(profile_name: str, count: int = 6) -> str:
        if (profile_name, count) not in made:
            profile = load_profile(profile_name)
            document = plot_page(real_cats[:count], paper=profile.paper, landscape=profile.landscape).document
            made[profile_name, count] = write_gcode(document, profile, title=f"{count} cats")
        return made[profile_name, count]

    return make


@pytest.fixture
def gcode_file(tmp_path, cat_gcode):
    """gcode_file(profile_name, count) -> path of a written G-code file."""

    def make(profile_name: str = "a4-servo", count: int = 6):
        path = tmp_path / f"cats-{profile_name}-{count}.gcode"
        path.write_text(cat_gcode(profile_name, count))
        return path

    return make
