"""Published Omniglot few-shot accuracies (%), to set beside the book's benchmark.

Each entry: learner name in the registry -> (citation key in ``references.bib``, note, accuracies by
``(n_way, k_shot)``). All on Omniglot with the evaluation protocol of Vinyals et al. (2016): 1623
characters augmented by rotations, 28x28 images (MAML and Reptile), full training budgets on GPUs.
"""

from __future__ import annotations

from typing import NamedTuple


class Published(NamedTuple):
    """Accuracies ``{(n_way, k_shot): percent}`` reported by the paper with citation key ``source``."""

    source: str
    note: str
    accuracy: dict[tuple[int, int], float]


PUBLISHED: dict[str, Published] = {
    "siamese": Published("vinyals2016matching", "Koch et al.'s siamese net as reported by Vinyals et al., Table 1",
                         {(5, 1): 97.3, (5, 5): 98.4, (20, 1): 88.2, (20, 5): 97.0}),
    "matching": Published("vinyals2016matching", "Table 1",
                          {(5, 1): 98.1, (5, 5): 98.9, (20, 1): 93.8, (20, 5): 98.5}),
    "protonet": Published("snell2017prototypical", "Table 1, trained 60-way",
                          {(5, 1): 98.8, (5, 5): 99.7, (20, 1): 96.0, (20, 5): 98.9}),
    "relation": Published("sung2018relation", "Table 1",
                          {(5, 1): 99.6, (5, 5): 99.8, (20, 1): 97.6, (20, 5): 99.1}),
    "maml": Published("finn2017maml", "Table 1",
                      {(5, 1): 98.7, (5, 5): 99.9, (20, 1): 95.8, (20, 5): 98.9}),
    "fomaml": Published("finn2017maml", "Table 1, first-order approximation",
                        {(5, 1): 98.3, (5, 5): 99.2, (20, 1): 89.4, (20, 5): 97.9}),
    "reptile": Published("nichol2018reptile", "Table 1, with transduction",
                         {(5, 1): 97.68, (5, 5): 99.48, (20, 1): 89.43, (20, 5): 97.12}),
    "meta-sgd": Published("li2017metasgd", "Table 1",
                          {(5, 1): 99.53, (5, 5): 99.93, (20, 1): 95.93, (20, 5): 98.97}),
    "metanet": Published("munkhdalai2017metanet", "Table 1",
                         {(5, 1): 98.95, (20, 1): 97.0}),
}
"""Learners without an entry (MANN, the LSTM meta-learners, Baseline, ...) report Omniglot results in
another protocol or none at all."""
