"""Meta-reinforcement learning on a small task family: environment, policy, policy gradient, MAML-RL."""

from .maml_rl import RLHistory, evaluate_adaptation, inner_loop, rollout_tasks, train_policy
from .point_navigation import PointNavigation, Trajectories
from .policy import GaussianPolicy, log_prob, sample_action, sample_action_per_task
from .policy_gradient import adapt_policy, advantages, reinforce_loss, returns_to_go

__all__ = [
    "PointNavigation", "Trajectories",
    "GaussianPolicy", "log_prob", "sample_action", "sample_action_per_task",
    "adapt_policy", "advantages", "reinforce_loss", "returns_to_go",
    "RLHistory", "evaluate_adaptation", "inner_loop", "rollout_tasks", "train_policy",
]
