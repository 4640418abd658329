"""Command line: ``python -m metalearn_lib {info,fetch-data,train,bench} ...``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import torch


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

    ml.seed_everything(args.seed)
    train = ml.Omniglot("train", rotations=True)
    test = ml.Omniglot("test")
    learner = ml.make_learner(args.learner, train.image_shape, args.n_way)
    steps = args.steps or ml.budget(smoke=20, book=1000, paper=20000)
    if any(p.requires_grad for p in learner.parameters()):
        history = ml.meta_train(
            learner,
            train.episodes(args.train_way or args.n_way, args.k_shot, args.n_query, seed=args.seed),
            steps,
            outer_lr=args.outer_lr,
            meta_batch_size=args.meta_batch_size,
            checkpoint=args.checkpoint,
        )
        print(f"trained {steps} steps in {history.seconds:.1f} s ({ml.budget_name()} budget)")
    episodes = test.fixed_episodes(args.n_way, args.k_shot, 15, args.test_episodes, seed=2026)
    score = ml.evaluate(learner, episodes, progress=True)
    print(f"{args.learner} {args.n_way}-way {args.k_shot}-shot on Omniglot test: {score}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import run_benchmark

    print(run_benchmark(args.name, meta_batch_sizes=args.meta_batch_sizes, repeats=args.repeats, device=args.device))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m metalearn_lib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("info", help="budget, data root, device and registered learners").set_defaults(func=cmd_info)

    fetch = sub.add_parser("fetch-data", help="find Omniglot under METALEARN_DATA or download the official zips")
    fetch.add_argument("--root", default=None, help="data root (default: METALEARN_DATA)")
    fetch.add_argument("--no-download", action="store_true", help="only check, never download")
    fetch.set_defaults(func=cmd_fetch_data)

    train = sub.add_parser("train", help="meta-train a registered learner on Omniglot and test it")
    train.add_argument("learner")
    train.add_argument("--n-way", type=int, default=5)
    train.add_argument("--k-shot", type=int, default=1)
    train.add_argument("--n-query", type=int, default=15)
    train.add_argument("--train-way", type=int, default=None, help="ways of training episodes (default: --n-way)")
    train.add_argument("--steps", type=int, default=None, help="default: from METALEARN_BUDGET")
    train.add_argument("--outer-lr", type=float, default=1e-3)
    train.add_argument("--meta-batch-size", type=int, default=1)
    train.add_argument("--test-episodes", type=int, default=600)
    train.add_argument("--checkpoint", default=None)
    train.add_argument("--seed", type=int, default=0)
    train.set_defaults(func=cmd_train)
    bench = sub.add_parser("bench", help="timing benchmarks, e.g. MAML looped vs vmapped meta-iterations")
    bench.add_argument("name", choices=["maml-vmap"])
    bench.add_argument("--meta-batch-sizes", type=int, nargs="+", default=[4, 16, 32])
    bench.add_argument("--repeats", type=int, default=3)
    bench.add_argument("--device", default=None, help="default: CUDA when available, else CPU")
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
