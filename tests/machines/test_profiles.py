import tomllib

import numpy as np
import pytest

from sketchplot.core.profiles import ProfileError, available_profiles, load_profile, profile_from_dict


def test_shipped_profiles_cover_servo_a4_a3_and_z():
    profiles = {name: load_profile(name) for name in available_profiles()}
    assert {"a4-servo", "a3-servo", "a4-zaxis"} <= set(profiles)
    assert profiles["a4-zaxis"].pen.method == "z"
    assert profiles["a3-servo"].width == 420


@pytest.mark.parametrize("name", ["a4-servo", "a3-servo", "a4-zaxis"])
def test_profile_toml_round_trip(name):
    profile = load_profile(name)
    again = profile_from_dict(tomllib.loads(profile.to_toml()), source=profile.source)
    assert again == profile


def test_page_to_machine_flips_y_for_bottom_left_origin():
    profile = load_profile("a4-servo")
    # page top-left corner (y down) is the machine's top-left: y = y_max
    mx, my = profile.page_to_machine(np.array([0.0, 10.0]), np.array([0.0, 20.0]), 210, 297)
    assert list(mx) == [0.0, 10.0] and list(my) == [210.0, 190.0]
    back = profile.machine_to_page(mx, my, 210, 297)
    assert list(back[0]) == [0.0, 10.0] and list(back[1]) == [0.0, 20.0]


def test_user_profile_directory_and_bad_profiles(tmp_path, monkeypatch):
    monkeypatch.setenv("SKETCHPLOT_CONFIG_DIR", str(tmp_path))
    (tmp_path / "machines").mkdir()
    (tmp_path / "machines" / "mine.toml").write_text("x_max = 100.0\ny_max = 100.0\n")
    assert load_profile("mine").width == 100
    with pytest.raises(ProfileError, match="unknown machine 'nope'"):
        load_profile("nope")
    bad = tmp_path / "bad.toml"
    bad.write_text("x_max = -1\n")
    with pytest.raises(ProfileError, match="empty work area"):
        load_profile(str(bad))
    bad.write_text("colour = 3\n")
    with pytest.raises(ProfileError, match="unknown profile keys"):
        load_profile(str(bad))
