"""Train every encoder config on the default split and write the README's results table.

    python benchmarks/results_table.py [--configs gru-attn cnn ...] [--epochs 6]
        [--out runs/results] [--set key=value ...]

Each config trains into ``OUT/<name>``; a finished run is reused only when it was trained
with the same resolved config (otherwise the script stops and names the folder to delete);
the chance baseline (random embeddings of the same test set) is added. Prints a
Markdown table of test-split MRR and nDCG@10 in both directions with bootstrap 95% CIs,
plus wall time per run, and writes it to ``OUT/results.md``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

CONFIGS = ["header", "cnn", "gru", "gru-attn", "transformer", "patch-transformer",
           "gru-attn-minilm"]


def _cell(m: dict, key: str) -> str:
    lo, hi = m["ci95"][key]
    return f"{m[key]:.3f} ({lo:.3f}–{hi:.3f})"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--configs", nargs="+", default=CONFIGS)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--out", default="runs/results")
    p.add_argument("--set", dest="overrides", action="append", default=[])
    args = p.parse_args(argv)

    from folkclip.config import to_dict
    from folkclip.errors import FolkclipError
    from folkclip_cli.study import evaluate as evaluate_cmd
    from folkclip_cli.train.config import load_config, read_run_config
    from folkclip_cli.train.tasks import run

    out = Path(args.out)
    rows = []
    for name in args.configs:
        run_dir = out / name
        cfg = load_config(f"configs/{name}.yaml", [f"trainer.max_epochs={args.epochs}",
                                                   "trainer.progress_bar=false",
                                                   *args.overrides])
        done = (run_dir / "eval_test.json").exists()
        if done and read_run_config(run_dir) != to_dict(cfg):
            raise FolkclipError(f"{run_dir} was trained with other settings; delete it to "
                                "retrain")
        if not done:
            start = time.time()
            run(cfg, run_dir)
            (run_dir / "wall_time.json").write_text(json.dumps({"seconds": time.time() - start}))
        metrics = json.loads((run_dir / "eval_test.json").read_text())
        wall = json.loads((run_dir / "wall_time.json").read_text())["seconds"] \
            if (run_dir / "wall_time.json").exists() else float("nan")
        cfg_text = (run_dir / "config.yaml").read_text()
        rows.append((name, metrics, wall, cfg_text))
    eval_parser = argparse.ArgumentParser()
    evaluate_cmd.add_arguments(eval_parser)
    rand = evaluate_cmd.evaluate(eval_parser.parse_args(
        [str(out / args.configs[0]), "--split", "test", "--random"]))
    lines = ["| model | tune→title MRR | tune→title nDCG@10 | title→tune MRR | "
             "title→tune nDCG@10 | train time |", "|---|---|---|---|---|---|"]
    for name, m, wall, _ in [("random", rand, float("nan"), "")] + rows:
        lines.append(f"| {name} | {_cell(m, 'tune_to_title/mrr')} | "
                     f"{_cell(m, 'tune_to_title/ndcg@10')} | {_cell(m, 'title_to_tune/mrr')} | "
                     f"{_cell(m, 'title_to_tune/ndcg@10')} | "
                     f"{'' if wall != wall else f'{wall / 60:.1f} min'} |")
    n = rows[0][1]
    lines.append(f"\nTest split of `default`: {n['n_tunes']} tunes, {n['n_titles']} distinct "
                 f"titles; 95% bootstrap CIs in brackets.")
    text = "\n".join(lines)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
