"""Training's files after kills and resumes: one log record per step, whole checkpoints,
checkpoints by wall time, and no silent fresh start on --resume."""

import json
from pathlib import Path

import pytest
import torch
from model_helpers import TINY

import sketchplot.model.train as train_module
from sketchplot.core.errors import SketchplotError
from sketchplot.model.train import TrainConfig, train


def tiny_config(**overrides) -> TrainConfig:
    raw = {
        "batch_size": 8,
        "max_steps": 20,
        "warmup_steps": 5,
        "learning_rate": 3e-3,
        "max_seq_len": 40,
        "eval_interval": 1000,
        "checkpoint_interval": 5,
        "log_interval": 1,
        "device": "cpu",
        "save_half": False,
        "model": dict(TINY),
    }
    return TrainConfig.from_dict({**raw, **overrides})


class _Killed(Exception):
    pass


def kill_at_batch(monkeypatch, number):
    """Make the ``number``-th batch (step number - 1) raise, as a kill would stop the run."""
    real_make_batch, calls = train_module.make_batch, []

    def dying_make_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == number:
            raise _Killed
        return real_make_batch(*args, **kwargs)

    monkeypatch.setattr(train_module, "make_batch", dying_make_batch)


def logged_steps(run_dir):
    return [r["step"] for r in map(json.loads, (run_dir / "log.jsonl").read_text().splitlines()) if "loss" in r]


def test_resume_logs_every_step_once(tiny_npz, tmp_path, monkeypatch):
    kill_at_batch(monkeypatch, 13)  # after the checkpoint of step 10, steps 11 and 12 logged
    with pytest.raises(_Killed):
        train(["blob"], [tiny_npz], tmp_path, tiny_config(), progress=False)
    assert logged_steps(tmp_path)[-1] == 12
    with open(tmp_path / "log.jsonl", "a") as log:
        log.write('{"step": 13, "lo')  # a kill in the middle of a write
    monkeypatch.undo()
    train(["blob"], [tiny_npz], tmp_path, tiny_config(), resume=True, progress=False)
    assert logged_steps(tmp_path) == list(range(1, 21))


def test_a_fresh_run_in_an_old_run_directory_starts_a_new_log(tiny_npz, tmp_path):
    train(["blob"], [tiny_npz], tmp_path, tiny_config(max_steps=4), progress=False)
    train(["blob"], [tiny_npz], tmp_path, tiny_config(max_steps=3), progress=False)
    assert logged_steps(tmp_path) == [1, 2, 3]


def test_a_kill_while_writing_the_checkpoint_keeps_the_previous_one(tiny_npz, tmp_path, monkeypatch):
    train(["blob"], [tiny_npz], tmp_path, tiny_config(max_steps=5), progress=False)
    real_save = torch.save

    def dying_save(obj, handle, *args, **kwargs):
        handle.write(b"half a checkpoint")
        raise _Killed

    monkeypatch.setattr(torch, "save", dying_save)
    with pytest.raises(_Killed):
        train(["blob"], [tiny_npz], tmp_path, tiny_config(max_steps=10), resume=True, progress=False)
    monkeypatch.setattr(torch, "save", real_save)
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["state"]["step"] == 5
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_resume_without_a_checkpoint_is_an_error_not_a_fresh_start(tiny_npz, tmp_path):
    with pytest.raises(SketchplotError, match="no checkpoint in .* to resume from"):
        train(["blob"], [tiny_npz], tmp_path / "run", tiny_config(), resume=True, progress=False)
    assert not (tmp_path / "run").exists()


def test_an_unreadable_checkpoint_is_one_line(tiny_npz, tmp_path):
    tmp_path.joinpath("checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(SketchplotError, match="cannot resume from .*checkpoint.pt") as caught:
        train(["blob"], [tiny_npz], tmp_path, tiny_config(), resume=True, progress=False)
    assert "\n" not in str(caught.value)


def test_checkpoints_are_also_written_by_wall_time(tiny_npz, tmp_path, monkeypatch):
    clock = iter(range(0, 10**6, 50))  # every look at the clock: 50 s later
    monkeypatch.setattr(train_module.time, "monotonic", lambda: next(clock))
    kill_at_batch(monkeypatch, 4)
    cfg = tiny_config(checkpoint_interval=1000, checkpoint_seconds=120)
    with pytest.raises(_Killed):
        train(["blob"], [tiny_npz], tmp_path, cfg, progress=False)
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["state"]["step"] in (2, 3)


def test_the_default_config_checkpoints_within_minutes():
    assert 0 < TrainConfig().checkpoint_seconds <= 300


def test_the_schedule_warms_up_then_decays_to_the_floor():
    cfg = tiny_config(learning_rate=1e-3, min_learning_rate=1e-5)
    assert [train_module.learning_rate(step, cfg) for step in range(5)] == [1e-3 * k / 5 for k in range(1, 6)]
    rates = [train_module.learning_rate(step, cfg) for step in range(4, 21)]
    assert rates == sorted(rates, reverse=True)
    assert rates[-1] == pytest.approx(1e-5)
    assert train_module.learning_rate(0, tiny_config(warmup_steps=0)) == 3e-3


def test_a_later_start_warms_up_again_into_the_same_decay():
    cfg = tiny_config(max_steps=40)
    for step in range(24, 40):
        assert train_module.learning_rate(step, cfg, 20) == train_module.learning_rate(step, cfg)
    for k in range(4):
        expected = train_module.learning_rate(20 + k, cfg) * (k + 1) / 5
        assert train_module.learning_rate(20 + k, cfg, 20) == pytest.approx(expected)


@pytest.mark.parametrize(
    "overrides, message",
    [({"start_step": 5}, "needs init_from"), ({"start_step": 20, "init_from": "source"}, "below max_steps")],
)
def test_a_start_step_needs_a_source_and_steps_left(overrides, message):
    with pytest.raises(SketchplotError, match=message):
        tiny_config(**overrides)


def continued_config(tmp_path, **overrides) -> str:
    """A TOML file of tiny_config's settings, for the app layer's train_model."""
    raw = {**tiny_config().to_dict(), "max_steps": 20, **overrides}
    model = raw.pop("model")
    lines = [f"{k} = {json.dumps(v)}" for k, v in raw.items() if v is not None and k != "init_from"]
    path = tmp_path / "train.toml"
    path.write_text("\n".join(lines + ["[model]"] + [f"{k} = {json.dumps(v)}" for k, v in model.items()]) + "\n")
    return str(path)


def learning_rates(run_dir):
    return [r["lr"] for r in map(json.loads, (run_dir / "log.jsonl").read_text().splitlines()) if "lr" in r]


def test_continue_from_takes_up_the_source_run_at_its_step(tiny_npz, tmp_path, monkeypatch):
    from sketchplot.app.models import train_model

    train(["blob"], [tiny_npz], tmp_path / "source", tiny_config(max_steps=10), progress=False)
    source = tmp_path / "source" / "best"
    started_from = []
    real_init = train_module._init_from
    monkeypatch.setattr(
        train_module, "_init_from", lambda net, path, names: started_from.append(path) or real_init(net, path, names)
    )
    overrides = {"continue_from": str(source)}
    summary, run = train_model(["blob"], [str(tiny_npz)], str(tmp_path / "next"), continued_config(tmp_path), overrides)
    assert started_from == [str(source)]
    assert summary["steps"] == 20
    assert logged_steps(run) == list(range(11, 21))
    planned = tiny_config(max_steps=20)
    assert learning_rates(run)[0] == pytest.approx(train_module.learning_rate(10, planned) / 5)
    assert json.loads((run / "best" / "config.json").read_text())["metrics"]["step"] == 20


def test_a_continued_run_resumes_on_its_own_schedule(tiny_npz, tmp_path, monkeypatch):
    from sketchplot.app.models import train_model

    train(["blob"], [tiny_npz], tmp_path / "source", tiny_config(max_steps=10), progress=False)
    overrides = {"continue_from": str(tmp_path / "source" / "best")}
    config = continued_config(tmp_path, warmup_steps=10)  # warming up again until step 20
    _, whole = train_model(["blob"], [str(tiny_npz)], str(tmp_path / "whole"), config, dict(overrides))
    kill_at_batch(monkeypatch, 7)  # after the checkpoint of step 15
    with pytest.raises(_Killed):
        train_model(["blob"], [str(tiny_npz)], str(tmp_path / "cut"), config, dict(overrides))
    monkeypatch.undo()
    train_model(["blob"], [str(tiny_npz)], str(tmp_path / "cut"), config, {}, resume=True)
    assert learning_rates(tmp_path / "cut") == learning_rates(whole)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"classes": ["other"]}, "draws other classes"),
        ({"model": {"n_embd": 16}}, "n_embd differ"),
        ({"max_steps": 10}, "end of a 10-step plan"),
        ({"out": "source"}, "would overwrite it"),
        ({"drop_step": True}, "does not say at which step"),
    ],
)
def test_continue_from_another_run_or_past_its_plan_is_one_line(tiny_npz, tmp_path, change, message):
    from sketchplot.app.models import train_model

    train(["blob"], [tiny_npz], tmp_path / "source", tiny_config(max_steps=10), progress=False)
    source = tmp_path / "source" / "best"
    if change.get("drop_step"):
        raw = json.loads((source / "config.json").read_text())
        del raw["metrics"]["step"]
        (source / "config.json").write_text(json.dumps(raw))
    settings = {"max_steps": change.get("max_steps", 20)}
    config = continued_config(tmp_path, **settings)
    if "model" in change:
        config_text = Path(config).read_text().replace("n_embd = ", "n_embd = 16 #")
        Path(config).write_text(config_text)
    classes = change.get("classes", ["blob"])
    out = tmp_path / change.get("out", "next")
    with pytest.raises(SketchplotError, match=message) as caught:
        train_model(classes, [str(tiny_npz)], str(out), config, {"continue_from": str(source)})
    assert "\n" not in str(caught.value)
