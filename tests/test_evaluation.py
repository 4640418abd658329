import math

import pytest
import torch

import metalearn_lib as ml
from metalearn_lib.evaluation import episode_metric


def test_mean_ci95_matches_hand_computation():
    values = [0.5, 0.7, 0.9, 1.0]
    mean = sum(values) / 4
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / 3)
    s = ml.mean_ci95(values)
    assert s.mean == pytest.approx(mean) and s.ci95 == pytest.approx(1.96 * std / 2) and s.n == 4
    assert str(s) == f"{100 * mean:.2f} ± {100 * 1.96 * std / 2:.2f} %"
    with pytest.raises(ValueError, match="at least 2"):
        ml.mean_ci95([1.0])


def test_episode_metric_accuracy_and_mse():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0]])
    assert episode_metric(logits, torch.tensor([0, 1, 1])) == pytest.approx(2 / 3)
    assert episode_metric(torch.tensor([[1.0], [3.0]]), torch.tensor([[0.0], [1.0]])) == pytest.approx(2.5)


def test_evaluate_pixel_nn_is_perfect_on_noiseless_classes():
    data = ml.synthetic_classes(n_classes=8, n_per_class=6, noise=0.0)
    score = ml.evaluate(ml.make_learner("pixel-nn"), data.fixed_episodes(5, 1, 3, 10))
    assert score.mean == 1.0 and score.ci95 == 0.0 and score.metric == "accuracy"


def test_evaluate_restores_training_mode_and_reports_mse():
    class Zero(ml.MetaLearner):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        @classmethod
        def for_images(cls, image_shape, n_way):
            return cls()

        def adapt(self, support_x, support_y):
            return None

        def predict(self, state, query_x):
            return self.w.expand(len(query_x), 1)

    learner = Zero().train()
    episodes = ml.Sinusoid().fixed_episodes(5, 20, 8, seed=0)
    score = ml.evaluate(learner, episodes)
    expected = sum(e.query_y.pow(2).mean().item() for e in episodes) / 8
    assert learner.training and score.metric == "mse" and score.mean == pytest.approx(expected)
