"""The recipe table: one recipe per registered learner, cache names that name every setting, and
training that is reused (not repeated) from the cache."""

import dataclasses

import pytest
import torch

import metalearn_lib as ml
from metalearn_lib import recipes
from metalearn_lib.learners.meta_transfer import hard_task_stream


def test_every_registered_learner_has_a_recipe():
    assert recipes.missing_recipes() == []
    assert set(recipes.RECIPES) == set(ml.available_learners())
    for name, recipe in recipes.RECIPES.items():
        assert recipe.learner == name
        assert recipe.source.startswith("chapters/"), name


def test_at_budget_picks_the_entry_of_the_budget(monkeypatch):
    for name, expected in (("smoke", 1), ("book", 2), ("paper", 3)):
        monkeypatch.setenv("METALEARN_BUDGET", name)
        assert recipes.at_budget((1, 2, 3)) == expected


def test_fixed_way_recipes_train_per_way_and_others_do_not():
    maml, protonet = recipes.recipe("maml"), recipes.recipe("protonet")
    assert maml.for_way(20).n_way == 20 and maml.n_way == 5
    assert protonet.for_way(5) is protonet
    assert recipes.recipe("maml", 20) == maml.for_way(20)
    with pytest.raises(ValueError, match="no recipe for 'nope'"):
        recipes.recipe("nope")


def test_cache_names_differ_by_budget_way_width_and_seed(monkeypatch):
    maml = recipes.recipe("maml")
    monkeypatch.setenv("METALEARN_BUDGET", "smoke")
    smoke = maml.cache_name(4)
    monkeypatch.setenv("METALEARN_BUDGET", "book")
    book = maml.cache_name(4)
    names = {smoke, book, maml.for_way(20).cache_name(4), maml.cache_name(4, seed=1), maml.cache_name(8)}
    assert len(names) == 5
    assert "-w32-" in book and "-w8-" in smoke and book.startswith("maml-book-5w1s5q-")


def test_build_uses_the_budget_width(monkeypatch):
    monkeypatch.setenv("METALEARN_BUDGET", "smoke")
    learner = recipes.recipe("maml").build()
    assert isinstance(learner, ml.learners.MAML)
    assert learner.net.features[0][0].out_channels == 8


def test_train_recipe_trains_once_then_loads(omniglot_splits, monkeypatch, tmp_path):
    monkeypatch.setenv("METALEARN_BUDGET", "smoke")
    monkeypatch.setattr(recipes, "models_dir", lambda: tmp_path)
    first = recipes.train_recipe("protonet", progress=False)
    again = recipes.train_recipe("protonet", progress=False)
    assert not first.cached and again.cached and first.path == again.path and first.path.parent == tmp_path
    assert len(first.history.steps) == recipes.at_budget(recipes.recipe("protonet").steps)
    for (name, a), b in zip(first.model.state_dict().items(), again.model.state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)


def test_train_names_the_pool_in_the_cache_file(omniglot_splits, monkeypatch, tmp_path):
    monkeypatch.setenv("METALEARN_BUDGET", "smoke")
    monkeypatch.setattr(recipes, "models_dir", lambda: tmp_path)
    data = ml.synthetic_classes(n_classes=6, n_per_class=4, image_shape=(1, 28, 28))
    small = recipes.Recipe("protonet", 3, 1, 1, (2, 2, 2))
    run = recipes.train(small, pool=data, progress=False)
    assert not run.cached and run.history.steps == [1, 2]
    assert run.path.name.startswith(f"protonet-smoke-{data.cache_key()}-3w1s1q-2x1-")
    assert recipes.train(small, pool=data, progress=False).cached
    fewer = data.subset(range(4))
    assert fewer.cache_key() != data.cache_key() and "[" not in fewer.cache_key()
    assert not recipes.train(small, pool=fewer, progress=False).cached  # another pool is another file


def test_hard_task_recipes_train_on_the_hard_task_stream(omniglot_splits, monkeypatch, tmp_path):
    monkeypatch.setenv("METALEARN_BUDGET", "smoke")
    monkeypatch.setattr(recipes, "models_dir", lambda: tmp_path)
    streams = []

    def spy(*args, **kwargs):
        streams.append((args[2:], kwargs))
        return hard_task_stream(*args, **kwargs)

    monkeypatch.setattr(recipes, "hard_task_stream", spy)
    data = ml.synthetic_classes(n_classes=8, n_per_class=6, image_shape=(1, 28, 28))
    plain = recipes.Recipe("protonet", 3, 1, 2, (2, 2, 2), (2, 2, 2))
    hard = dataclasses.replace(plain, hard_tasks=True)
    assert "hardtasks" in hard.cache_name(4) and "hardtasks" not in plain.cache_name(4)
    assert "hard meta-batches" in hard.describe() and "hard" not in plain.describe()
    recipes.train(plain, pool=data, progress=False)
    assert streams == []
    run = recipes.train(hard, pool=data, progress=False)
    assert not run.cached and run.path.name.endswith("hardtasks-seed0.pt")
    assert streams == [((3, 1, 2, 2), {"seed": 0})]


def test_untrained_learners_come_back_without_a_file(omniglot_splits, monkeypatch):
    monkeypatch.setenv("METALEARN_BUDGET", "smoke")
    result = recipes.train_recipe("pixel-nn")
    assert result.path is None and result.cached and result.history.steps == []


def test_per_budget_options_are_resolved(monkeypatch):
    scratch = recipes.recipe("scratch")
    for name, expected in (("smoke", 5), ("book", 100)):
        monkeypatch.setenv("METALEARN_BUDGET", name)
        assert scratch.resolved_options() == {"steps": expected}
        assert scratch.build().steps == expected
