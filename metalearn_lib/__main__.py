"""Command line: ``python -m metalearn_lib {info,fetch-data,train,bench} ...``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import torch

from .bench import MAML_VMAP_TASKS


def cmd_info(args: argparse.Namespace) -> int:
    import metalearn_lib as ml

    print(f"metalearn_lib {ml.__version__}, torch {torch.__version__}")
    print(f"budget:  {ml.budget_name()}  (METALEARN_BUDGET)")
    print(f"data:    {ml.data_root()}  (METALEARN_DATA)")
    print(f"cache:   {ml.cache_dir()}  (METALEARN_CACHE)")
    print(f"device:  {ml.default_device()}")
    print(f"learners: {', '.join(ml.available_learners())}")
    return 0


def cmd_fetch_data(args: argparse.Namespace) -> int:
    from .datasets.omniglot import BACKGROUND, EVALUATION, download_omniglot, find_source

    found = {s: find_source(s, args.root) for s in (BACKGROUND, EVALUATION)}
    if all(found.values()):
        for s, path in found.items():
            print(f"Omniglot {s}: found {path}")
        return 0
    if args.no_download:
        missing = [s for s, p in found.items() if p is None]
        print(f"Omniglot {', '.join(missing)} missing and --no-download given", file=sys.stderr)
        return 1
    print(f"downloading Omniglot into {download_omniglot(args.root)}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    import metalearn_lib as ml
    from .learners.memory import SequenceLearner, instance_accuracy
    from .recipes import fixed_test_episodes, recipe, train_recipe

    ml.seed_everything(args.seed)
    trained = train_recipe(args.learner, args.n_way, seed=args.seed)
    chosen = recipe(args.learner, args.n_way)
    if trained.path is None:
        print(f"{args.learner} has nothing to meta-train")
    else:
        action = "loaded from" if trained.cached else "trained and saved to"
        print(f"{args.learner}: {action} {trained.path} ({ml.budget_name()} budget, "
              f"{trained.history.seconds:.1f} s of training; recipe from {chosen.source})")
    episodes = fixed_test_episodes(args.n_way, args.k_shot, args.test_episodes)
    score = ml.evaluate(trained.model, episodes, progress=True)
    print(f"{args.learner} {args.n_way}-way {args.k_shot}-shot on Omniglot test: {score}")
    if isinstance(trained.model, SequenceLearner):
        sequences = fixed_test_episodes(chosen.n_way, chosen.k_shot, args.test_episodes, n_query=0)
        print(f"{args.learner} accuracy by instance, {chosen.n_way} classes x {chosen.k_shot} drawings "
              f"(Santoro et al., 2016): {instance_accuracy(trained.model, sequences)}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from . import bench

    if args.name == "maml-vmap":
        print(bench.run_benchmark(args.name, meta_batch_sizes=args.meta_batch_sizes, repeats=args.repeats,
                                  device=args.device, task=args.task))
        return 0
    results = bench.benchmark_learners(args.learners, args.ways, args.shots, device=args.device)
    path = bench.save_results(results, args.out or bench.default_results_path())
    print(bench.format_results(results))
    print(f"results written to {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m metalearn_lib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("info", help="budget, data root, device and registered learners").set_defaults(func=cmd_info)

    fetch = sub.add_parser("fetch-data", help="find Omniglot under METALEARN_DATA or download the official zips")
    fetch.add_argument("--root", default=None, help="data root (default: METALEARN_DATA)")
    fetch.add_argument("--no-download", action="store_true", help="only check, never download")
    fetch.set_defaults(func=cmd_fetch_data)

    train = sub.add_parser("train", help="train a registered learner by the book's recipe (or load it) and test it")
    train.add_argument("learner")
    train.add_argument("--n-way", type=int, default=5, help="classes per test episode (and training, for fixed-way learners)")
    train.add_argument("--k-shot", type=int, default=1)
    train.add_argument("--test-episodes", type=int, default=600)
    train.add_argument("--seed", type=int, default=0)
    train.set_defaults(func=cmd_train)

    bench = sub.add_parser("bench", help="'learners': every learner on the same test episodes; "
                                         "'maml-vmap': MAML meta-iterations looped vs vmapped")
    bench.add_argument("name", nargs="?", default="learners", choices=["learners", "maml-vmap"])
    bench.add_argument("--learners", nargs="+", default=None, help="default: every learner with a recipe")
    bench.add_argument("--ways", type=int, nargs="+", default=[5, 20])
    bench.add_argument("--shots", type=int, nargs="+", default=[1, 5])
    bench.add_argument("--out", default=None, help="results file (default: under the cache, named by budget)")
    bench.add_argument("--meta-batch-sizes", type=int, nargs="+", default=[4, 16, 32])
    bench.add_argument("--repeats", type=int, default=3)
    bench.add_argument("--task", default="omniglot", choices=MAML_VMAP_TASKS, help="maml-vmap: the tasks timed")
    bench.add_argument("--device", default=None, help="default: CUDA when available, else CPU")
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
