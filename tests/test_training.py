import pytest
import torch

import metalearn_lib as ml


def small_protonet():
    return ml.learners.PrototypicalNetwork(ml.Conv4((1, 28, 28), hidden=16))


def test_meta_train_protonet_learns_synthetic_tasks(synthetic, tmp_path):
    learner = small_protonet()
    test = synthetic.fixed_episodes(5, 1, 3, 30, seed=99)
    before = ml.evaluate(learner, test)
    history = ml.meta_train(
        learner, synthetic.episodes(5, 1, 3, seed=0), 60, outer_lr=3e-3, meta_batch_size=2,
        val_episodes=synthetic.fixed_episodes(5, 1, 3, 10, seed=1), eval_every=20,
        checkpoint=tmp_path / "ckpt.pt", progress=False,
    )
    after = ml.evaluate(learner, test)
    assert after.mean > 0.8 > 0.2 + 0.5 and after.mean > before.mean
    assert history.steps == list(range(1, 61)) and len(history.loss) == 60
    assert history.val_steps == [20, 40, 60] and history.best_step in history.val_steps
    assert history.best_score is history.val_scores[history.val_steps.index(history.best_step)]
    assert history.seconds > 0 and history.budget == ml.budget_name()
    assert sum(history.loss[-10:]) < sum(history.loss[:10])
    meta = ml.load_checkpoint(tmp_path / "ckpt.pt", small_protonet())
    assert meta["step"] == 60


def test_restore_best_leaves_the_best_validated_weights(synthetic):
    learner = small_protonet()
    val = synthetic.fixed_episodes(5, 1, 3, 5, seed=1)
    history = ml.meta_train(learner, synthetic.episodes(5, 1, 3), 30, val_episodes=val, eval_every=10, progress=False)
    assert ml.evaluate(learner, val).mean == pytest.approx(history.best_score.mean)


def test_meta_train_rejects_bad_arguments(synthetic):
    with pytest.raises(ValueError, match="steps >= 1"):
        ml.meta_train(small_protonet(), synthetic.episodes(5, 1, 1), 0)
    with pytest.raises(ValueError, match="no trainable parameters"):
        ml.meta_train(ml.make_learner("pixel-nn"), synthetic.episodes(5, 1, 1), 5)
    with pytest.raises(ValueError, match="ran out"):
        ml.meta_train(small_protonet(), iter([next(synthetic.episodes(5, 1, 1))]), 3, progress=False)


def test_cosine_schedule_decays_the_rate_to_zero(synthetic):
    rates = {}
    for schedule in ("constant", "cosine"):
        learner = ml.make_learner("protonet", synthetic.image_shape)
        optimizer = torch.optim.Adam(learner.parameters(), lr=1e-3)
        ml.meta_train(learner, synthetic.episodes(5, 1, 2, seed=0), 4, optimizer=optimizer, lr_schedule=schedule,
                      progress=False)
        rates[schedule] = optimizer.param_groups[0]["lr"]
    assert rates["constant"] == 1e-3 and rates["cosine"] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="lr_schedule"):
        ml.meta_train(ml.make_learner("protonet", synthetic.image_shape), synthetic.episodes(5, 1, 2, seed=0), 2,
                      lr_schedule="step")
