"""The pen's settle dwells: one after it goes down, one (shorter, if set) after it goes up."""

import pytest

from sketchplot.core.profiles import ProfileError, profile_from_dict


def test_lift_settle_is_read_validated_and_kept_in_the_profile_text():
    profile = profile_from_dict({"name": "x", "pen": {"settle_s": 0.2, "lift_settle_s": 0.05}})
    assert (profile.pen.settle_after(True), profile.pen.settle_after(False)) == (0.2, 0.05)
    assert profile_from_dict({"name": "x", "pen": {"settle_s": 0.2}}).pen.settle_after(False) == 0.2
    assert "lift_settle_s = 0.05" in profile.to_toml()
    with pytest.raises(ProfileError, match="pen.lift_settle_s must be >= 0"):
        profile_from_dict({"name": "x", "pen": {"lift_settle_s": -0.1}})
