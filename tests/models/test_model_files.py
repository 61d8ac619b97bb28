"""A model folder is untrusted input: it runs no code, names no path outside itself, is checked
field by field before anything is built, and a save is atomic as a whole."""

import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from rewardlab.models import ModelFormatError, RewardModel, TrainConfig, train_ensemble
from rewardlab.models.model_file import CONFIG_FILE

from test_models import synthetic_pairs


def small_model(embedder="e", seed=0, dim=16):
    feats = {embedder: synthetic_pairs(60, dim=dim, seed=seed)}
    return RewardModel(train_ensemble(feats, None, TrainConfig(epochs=2, hidden=(8,), seed=seed), members=2), meta={"seed": seed})


def write_config(folder: Path, mutate):
    cfg = json.loads((folder / CONFIG_FILE).read_text())
    mutate(cfg)
    (folder / CONFIG_FILE).write_text(json.dumps(cfg))


# ---- no code from a model folder ---------------------------------------------------------------

def custom_code_lm(folder: Path, marker: Path) -> None:
    """A 'model' whose architecture exists only as custom code that would write ``marker``."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({
        "model_type": "evil",
        "auto_map": {"AutoConfig": "modeling_evil.EvilConfig", "AutoTokenizer": ["modeling_evil.EvilTokenizer", None],
                     "AutoModelForCausalLM": "modeling_evil.EvilModel"},
    }))
    (folder / "tokenizer_config.json").write_text(json.dumps({"auto_map": {"AutoTokenizer": ["modeling_evil.EvilTokenizer", None]}}))
    (folder / "modeling_evil.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")


def test_a_model_folder_with_custom_code_never_runs_it_even_when_stdin_says_yes(tmp_path):
    marker = tmp_path / "MARKER"
    model_dir = tmp_path / "m"
    small_model().save(model_dir)
    custom_code_lm(model_dir / "lm", marker)
    write_config(model_dir, lambda c: [m.update(embedder="lm:lm") for m in c["members"]])
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"prompt": "p", "chosen": "a", "rejected": "b"}) + "\n")
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-m", "rewardlab.cli", "score", "--model", str(model_dir), "--data", str(data)],
                          input="y\n" * 50, capture_output=True, text=True, env=env, timeout=300)
    assert not marker.exists()
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "cannot load a causal LM" in proc.stderr
    assert "Do you wish to run" not in proc.stdout + proc.stderr


@pytest.mark.parametrize("spec", ["lm:../elsewhere", "lm:/etc", "lm:sub/../../x", "lm:.", "lm:", "lm-chat:/etc", "lm-chat:../elsewhere", "lm-chat:"])
def test_embedder_paths_outside_the_model_folder_are_refused(tmp_path, spec):
    (tmp_path / "elsewhere").mkdir()
    model_dir = tmp_path / "m"
    small_model().save(model_dir)
    write_config(model_dir, lambda c: c["members"][0].update(embedder=spec))
    with pytest.raises(ValueError, match="embedder") as err:
        RewardModel.load(model_dir)
    assert "model folder" in str(err.value)


def test_a_symlink_inside_the_folder_that_leaves_it_is_refused(tmp_path):
    (tmp_path / "outside").mkdir()
    model_dir = tmp_path / "m"
    small_model().save(model_dir)
    (model_dir / "link").symlink_to(tmp_path / "outside")
    write_config(model_dir, lambda c: c["members"][0].update(embedder="lm:link"))
    with pytest.raises(ValueError, match="outside the model folder"):
        RewardModel.load(model_dir)


def test_an_lm_inside_the_folder_is_recorded_relative_and_loads_absolute(tmp_path):
    model_dir = tmp_path / "m"
    (model_dir / "my-lm").mkdir(parents=True)
    model = small_model(embedder=f"lm:{model_dir / 'my-lm'}")
    model.save(model_dir)
    cfg = json.loads((model_dir / CONFIG_FILE).read_text())
    assert {m["embedder"] for m in cfg["members"]} == {"lm:my-lm"}
    assert RewardModel.load(model_dir).embedders == [f"lm:{(model_dir / 'my-lm').resolve()}"]


# ---- tampered configs: clear errors, nothing built first ---------------------------------------

TAMPERINGS = {
    "no members": (lambda c: c.pop("members"), "no members"),
    "members not a list": (lambda c: c.update(members={"a": 1}), "no members"),
    "member not an object": (lambda c: c["members"].__setitem__(0, 3), "member 0 must be an object"),
    "no head": (lambda c: c["members"][0].pop("head"), "'head' must be an object"),
    "dropout 2": (lambda c: c["members"][0]["head"].update(dropout=2), "dropout must be in"),
    "dim -5": (lambda c: c["members"][0]["head"].update(dim=-5), "head dim must be an integer"),
    "dim a string": (lambda c: c["members"][0]["head"].update(dim="16"), "head dim must be an integer"),
    "hidden a number": (lambda c: c["members"][0]["head"].update(hidden=8), "hidden"),
    "hidden true": (lambda c: c["members"][0]["head"].update(hidden=[True]), "hidden width"),
    "scale zero": (lambda c: c["members"][0].update(scale=0), "scale must be positive"),
    "offset missing": (lambda c: c["members"][0].pop("offset"), "offset must be a finite number"),
    "embedder a number": (lambda c: c["members"][0].update(embedder=5), "'embedder' must be a string"),
    "meta a list": (lambda c: c.update(meta=[1]), "'meta' must be an object"),
    "huge hidden": (lambda c: c["members"][0]["head"].update(hidden=[500000]), "has shape"),
    "extra layer": (lambda c: c["members"][0]["head"].update(hidden=[8, 8]), "the config implies"),
    "weights file escapes": (lambda c: c["weights"].update(file="../w.safetensors"), "inside the model folder"),
    "deep nesting": (lambda c: c["meta"].update(deep=json.loads("[" * 200 + "]" * 200)), "nests deeper"),
    "version 7": (lambda c: c.update(format_version=7), "format version 7"),
}


@pytest.mark.parametrize("name", sorted(TAMPERINGS))
def test_tampered_configs_are_clear_errors_before_anything_is_built(tmp_path, name):
    mutate, message = TAMPERINGS[name]
    small_model().save(tmp_path / "m")
    write_config(tmp_path / "m", mutate)
    tracemalloc.start()
    try:
        with pytest.raises(ModelFormatError, match=message):
            RewardModel.load(tmp_path / "m")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 << 20  # "hidden": [500000] would allocate 2.6 GB if a head were built first


def test_a_config_that_is_not_a_regular_file_or_too_large_is_refused(tmp_path):
    small_model().save(tmp_path / "m")
    cfg = tmp_path / "m" / CONFIG_FILE
    cfg.unlink()
    cfg.symlink_to("/dev/zero")
    with pytest.raises(ModelFormatError, match="not a regular file"):
        RewardModel.load(tmp_path / "m")
    cfg.unlink()
    cfg.mkdir()
    with pytest.raises(ModelFormatError, match="not a regular file"):
        RewardModel.load(tmp_path / "m")
    cfg.rmdir()
    cfg.write_text('{"format": "rewardlab-reward-model", "pad": "' + "x" * (5 << 20) + '"}')
    with pytest.raises(ModelFormatError, match="larger than"):
        RewardModel.load(tmp_path / "m")
    cfg.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ModelFormatError, match="not valid JSON"):
        RewardModel.load(tmp_path / "m")


def test_the_cli_reports_a_tampered_model_without_a_traceback(tmp_path, capsys):
    from rewardlab.cli import main

    small_model().save(tmp_path / "m")
    write_config(tmp_path / "m", lambda c: c["members"][0]["head"].update(dropout=2))
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"prompt": "p", "chosen": "a", "rejected": "b"}) + "\n")
    assert main(["eval", "--model", str(tmp_path / "m"), "--data", str(data)]) == 2
    assert "dropout" in capsys.readouterr().err


# ---- atomic saves --------------------------------------------------------------------------------

def scores(model, dim=16):
    x = synthetic_pairs(40, dim=dim, seed=9).chosen
    return model.score_features({"e": x})


@pytest.mark.parametrize("crash_at", ["weights rename", "config rename", "cleanup"])
def test_a_save_that_dies_midway_leaves_the_old_or_the_new_model_never_a_mix(tmp_path, monkeypatch, crash_at):
    import rewardlab.models.model_file as mf

    old, new = small_model(seed=1), small_model(seed=2)
    old.save(tmp_path / "m")
    real_replace, real_unlink = os.replace, Path.unlink

    def replace(src, dst):
        is_config = Path(dst).name == CONFIG_FILE
        if (crash_at == "weights rename" and not is_config) or (crash_at == "config rename" and is_config):
            raise KeyboardInterrupt("killed")
        return real_replace(src, dst)

    def unlink(self, missing_ok=False):
        if crash_at == "cleanup":
            raise KeyboardInterrupt("killed")
        return real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(mf.os, "replace", replace)
    monkeypatch.setattr(Path, "unlink", unlink)
    with pytest.raises(KeyboardInterrupt):
        new.save(tmp_path / "m")
    monkeypatch.undo()
    loaded = RewardModel.load(tmp_path / "m")
    expected = new if crash_at == "cleanup" else old
    np.testing.assert_array_equal(scores(loaded), scores(expected))
    new.save(tmp_path / "m")  # the next save cleans up after the dead one
    np.testing.assert_array_equal(scores(RewardModel.load(tmp_path / "m")), scores(new))
    assert sorted(p.name.split("-")[0] for p in (tmp_path / "m").iterdir()) == ["rewardlab_model.json", "weights"]


def test_weights_swapped_under_an_old_config_are_detected(tmp_path):
    small_model(seed=1).save(tmp_path / "a")
    small_model(seed=2).save(tmp_path / "b")
    wa = next((tmp_path / "a").glob("weights-*"))
    wb = next((tmp_path / "b").glob("weights-*"))
    wa.write_bytes(wb.read_bytes())
    with pytest.raises(ModelFormatError, match="SHA-256"):
        RewardModel.load(tmp_path / "a")


def test_saved_files_are_readable_by_other_users_under_the_usual_umask(tmp_path):
    old = os.umask(0o022)
    try:
        small_model().save(tmp_path / "m")
    finally:
        os.umask(old)
    for f in (tmp_path / "m").iterdir():
        assert f.stat().st_mode & 0o777 == 0o644, f


def test_a_version_1_model_still_loads(tmp_path):
    """Models saved before hashes (fixed weights.safetensors, no 'weights' entry) keep working."""
    model = small_model()
    model.save(tmp_path / "m")
    w = next((tmp_path / "m").glob("weights-*"))
    w.rename(tmp_path / "m" / "weights.safetensors")
    write_config(tmp_path / "m", lambda c: (c.pop("weights"), c.update(format_version=1)))
    np.testing.assert_array_equal(scores(RewardModel.load(tmp_path / "m")), scores(model))


def test_a_diverged_training_is_an_error_not_a_nan_model(tmp_path):
    feats = {"e": synthetic_pairs(100, dim=16, seed=0)}
    with pytest.raises(ValueError, match="lr"):
        train_ensemble(feats, None, TrainConfig(epochs=3, lr=1e30), members=1)
