"""Fit every public reference data set of tests/data through its config and print the
published estimates beside the posterior means and 90% intervals.

    uv run python examples/reproduce_published.py [--out results/public]

The published values are those the slow tests check (tests/test_public_data.py::PUBLISHED);
each data set's results stay in ``<out>/<name>/`` (summary.csv, report.html, ...).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.test_public_data import DATA, PUBLISHED  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "public")
    args = parser.parse_args(argv)
    rows = []
    for name, published in PUBLISHED.items():
        out = args.out / name
        rc = subprocess.run([sys.executable, str(ROOT / "run_models.py"), "--config",
                             str(DATA / f"{name}.toml"), "--out", str(out)], cwd=ROOT).returncode
        summary = pd.read_csv(out / "summary.csv").set_index("parameter")
        verdict = pd.read_csv(out / "diagnostics.csv")["verdict"].iloc[0]
        for kind in ("fixed", "other"):
            for parameter, value in published[kind].items():
                r = summary.loc[parameter]
                rows.append({"data": name, "parameter": parameter, "published": value,
                             "mean": r["mean"], "q05": r["q05"], "q95": r["q95"],
                             "inside_90": r["q05"] <= value <= r["q95"],
                             "shift_in_sd": (r["mean"] - value) / r["sd"],
                             "verdict": verdict, "exit": rc})
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_rows", 200):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    verdicts = table.drop_duplicates("data")["verdict"].value_counts().to_dict()
    print(f"\n{int(table['inside_90'].sum())} of {len(table)} published values inside the "
          f"90% interval; verdicts: {verdicts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
