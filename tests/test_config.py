"""Recipes: YAML, `--set` overrides, one-line validation errors, and a lossless save/load round trip."""

import math

import pytest
import yaml

from attnlab import config
from attnlab.config import TrainConfig, apply_overrides, parse, read_yaml, save_recipe
from attnlab.errors import UserError
from attnlab.recipe import build_recipe, load_recipe
from tests.conftest import REPO

RECIPES = REPO / "recipes"
RECIPE = RECIPES / "translate-spa-eng-bahdanau.yaml"


def _raw(**sections):
    raw = {"task": "translation", "data": {}, "model": {"arch": "rnn"}, "train": {}}
    raw.update(sections)
    return raw


def test_yaml_recipe_loads_with_defaults_filled_in():
    r = load_recipe(RECIPE)
    assert (r.task, r.arch, r.name) == ("translation", "rnn", "translate-spa-eng-bahdanau")
    assert r.model.hidden == 512 and r.model.attention == "bahdanau" and r.data.max_len == 16
    assert r.train.metric == "bleu" and r.train.lr == pytest.approx(1e-3)
    assert r.train.warmup == 0 and r.train.keep_checkpoints == 2  # dataclass defaults


def test_set_overrides_parse_yaml_scalars():
    r = load_recipe(
        RECIPE,
        [
            "train.lr=3e-4",
            "train.clip=null",
            "train.betas=[0.9, 0.98]",
            "data.lowercase=false",
            "train.max_steps=1e3",
            "model.hidden=32",
            "name=tiny",
        ],
    )
    assert isinstance(r.train.lr, float) and r.train.lr == 3e-4
    assert r.train.clip is None
    assert r.train.betas == [0.9, 0.98]
    assert r.data.lowercase is False
    assert r.train.max_steps == 1000 and isinstance(r.train.max_steps, int)
    assert r.model.hidden == 32 and r.name == "tiny"


def test_yaml11_exponent_floats_in_a_file_are_numbers(tmp_path):
    # PyYAML (YAML 1.1) reads `3e-4` without a dot as the *string* "3e-4".
    path = tmp_path / "r.yaml"
    path.write_text("task: translation\ntrain:\n  lr: 3e-4\n  max_minutes: 1e1\n")
    r = load_recipe(path)
    assert r.train.lr == 3e-4 and r.train.max_minutes == 10.0


def test_set_into_a_section_left_empty_in_yaml(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("task: translation\ntrain:\nmodel:\n")
    r = load_recipe(path, ["train.lr=0.01", "model.hidden=8"])
    assert r.train.lr == 0.01 and r.model.hidden == 8


def test_unknown_key_names_the_valid_keys():
    with pytest.raises(UserError) as err:
        load_recipe(RECIPE, ["train.lr_rate=0.1"])
    msg = str(err.value)
    assert "unknown key 'train.lr_rate'" in msg
    assert "valid keys:" in msg and "batch_size" in msg and "max_minutes" in msg and "lr," in msg
    assert "\n" not in msg
    with pytest.raises(UserError, match="did you mean 'train.batch_size'"):
        load_recipe(RECIPE, ["train.bacth_size=8"])
    with pytest.raises(UserError, match="unknown key 'model.hiden'.*valid keys: .*hidden"):
        load_recipe(RECIPE, ["model.hiden=8"])


@pytest.mark.parametrize(
    ("item", "words"),
    [
        ("train.batch_size=big", ["train.batch_size", "integer", "'big'"]),
        ("train.lr=fast", ["train.lr", "number"]),
        ("data.lowercase=3", ["data.lowercase", "true or false"]),
        ("train.betas=0.9", ["train.betas", "list"]),
        ("train.optimizer=adagrad", ["train.optimizer", "'adam'", "'sgd'", "'adagrad'"]),
        ("model.cell=transformer", ["model.cell", "'gru'", "'lstm'"]),
        ("train.schedule=linear", ["train.schedule", "'noam'"]),
    ],
)
def test_wrong_type_and_choice_errors(item, words):
    with pytest.raises(UserError) as err:
        load_recipe(RECIPE, [item])
    for w in words:
        assert w in str(err.value)


@pytest.mark.parametrize(
    "item",
    [
        "train.lr=0",
        "train.lr=-1e-3",
        "train.lr=.nan",
        "train.lr=.inf",
        "train.batch_size=-1",
        "train.batch_size=0",
        "train.epochs=0",
        "model.hidden=0",
        "model.embed_dim=-4",
        "train.max_steps=0",
        "train.max_minutes=0",
        "train.clip=0",
        "train.clip=.nan",
        "train.eps=0",
        "train.weight_decay=-0.1",
        "train.min_lr=-1",
        "train.label_smoothing=1.0",
        "train.keep_checkpoints=0",
        "train.warmup=-1",
        "data.limit=0",
        "model.dropout=1.0",
        "train.betas=[0.9]",
    ],
)
def test_non_positive_hyper_parameters_are_rejected(item):
    key = item.split("=")[0]
    with pytest.raises(UserError) as err:
        load_recipe(RECIPE, [item])
    assert key.split(".")[1] in str(err.value)


def test_noam_needs_warmup():
    with pytest.raises(UserError, match="warmup"):
        load_recipe(RECIPE, ["train.schedule=noam"])
    assert load_recipe(RECIPE, ["train.schedule=noam", "train.warmup=40"]).train.warmup == 40


def test_unknown_section_task_and_arch():
    with pytest.raises(UserError, match="unknown section 'trainer'.*valid sections"):
        build_recipe(_raw(trainer={}))
    with pytest.raises(UserError, match="unknown task 'translate'.*translation"):
        build_recipe(_raw(task="translate"))
    with pytest.raises(UserError, match="model.arch must be one of .*rnn.*got 'lstm'"):
        build_recipe(_raw(model={"arch": "lstm"}))
    with pytest.raises(UserError, match="needs a 'task'"):
        build_recipe({"data": {}})
    with pytest.raises(UserError, match="'train' must be a mapping"):
        build_recipe(_raw(train=[1, 2]))


def test_bad_set_syntax():
    with pytest.raises(UserError, match="key=value"):
        apply_overrides({}, ["train.lr"])
    with pytest.raises(UserError, match="section.key"):
        apply_overrides({}, ["train..lr=1"])
    with pytest.raises(UserError, match="not a section"):
        apply_overrides({"train": 3}, ["train.lr=1"])


def test_parse_reports_missing_required_fields():
    import dataclasses

    @dataclasses.dataclass
    class Needs:
        a: int
        b: float = 1.0

    with pytest.raises(UserError, match="needs x.a"):
        parse(Needs, {"b": 2}, "x")
    assert parse(Needs, {"a": 2.0}, "x").a == 2  # integral float accepted for int


def test_bad_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: translation\ntrain: {lr: [1,\n")
    with pytest.raises(UserError, match="not valid YAML"):
        load_recipe(bad)
    with pytest.raises(UserError, match="does not exist"):
        load_recipe(tmp_path / "nope.yaml")
    lst = tmp_path / "list.yaml"
    lst.write_text("- 1\n- 2\n")
    with pytest.raises(UserError, match="must be a YAML mapping"):
        load_recipe(lst)


def test_saved_recipe_round_trips(tmp_path):
    r = load_recipe(
        RECIPE,
        [
            "train.lr=3e-4",
            "train.clip=null",
            "train.betas=[0.9, 0.98]",
            "train.eps=1e-9",
            "train.max_minutes=0.5",
            "data.limit=400",
            "model.teacher_forcing=0.5",
            "train.schedule=cosine",
            "train.min_lr=1e-6",
        ],
    )
    path = tmp_path / "config.yaml"
    save_recipe(r, path)
    again = build_recipe(config.read_yaml(path))
    assert again.to_dict() == r.to_dict()
    assert yaml.safe_load(path.read_text())["model"]["arch"] == "rnn"
    assert not math.isnan(again.train.lr)


def test_train_config_defaults_are_valid():
    TrainConfig().validate()


@pytest.mark.parametrize("path", sorted(RECIPES.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_recipe_validates_and_round_trips(path, tmp_path):
    """A recipe in recipes/ that does not parse would fail a user at `attnlab train` — catch it here."""
    recipe = load_recipe(path)
    save_recipe(recipe, tmp_path / "config.yaml")
    again = build_recipe(read_yaml(tmp_path / "config.yaml"))
    assert again.to_dict() == recipe.to_dict()


def test_renamed_model_options_load_from_old_runs_and_are_named_in_recipes():
    """One spelling per option (heads, layers, tie_embeddings, positional) across models; a run saved with
    the old GPT spellings still loads, and a recipe using them is told the new name."""
    from attnlab.recipe import build_recipe

    old = {"task": "lm", "model": {"arch": "transformer", "num_heads": 2, "num_layers": 1, "tie_weights": False,
                                   "positions": "sinusoidal", "d_model": 16}}  # fmt: skip
    recipe = build_recipe(old, saved=True)
    m = recipe.model
    assert (m.heads, m.layers, m.tie_embeddings, m.positional) == (2, 1, False, "sinusoidal")
    with pytest.raises(UserError, match="model.num_heads is now called model.heads"):
        build_recipe(old)
