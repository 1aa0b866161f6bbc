"""Make the made-up non-housing example: pupils in classes in schools (run once; seeded)."""

from pathlib import Path

import numpy as np
import pandas as pd

rng = np.random.default_rng(42)
schools = [f"S{i}" for i in range(1, 7)]
school_eff = dict(zip(schools, [0.0, 0.4, -0.3, 0.2, 0.6, -0.1], strict=True))
rows = []
for s in schools:
    for c in range(5):
        cls = f"{s}-K{c + 1}"
        u = rng.normal(0, 0.3)
        for _ in range(rng.integers(12, 28)):
            girl = rng.integers(0, 2)
            hours = rng.gamma(4, 1.5)
            ses = rng.integers(1, 4)
            eta = school_eff[s] + u + 0.2 * girl + 0.15 * (hours - 6) + 0.3 * (ses - 2)
            score = 6.5 + eta + rng.normal(0, 1)
            passed = int(rng.random() < 1 / (1 + np.exp(-(0.8 + eta))))
            grade = 1 + int(score > 6) + int(score > 7.5)
            rows.append((cls, s, girl, round(hours, 1), ses, round(score, 2), passed, grade))
frame = pd.DataFrame(rows, columns=["class_id", "school", "girl", "homework_hours", "ses",
                                    "score", "passed", "grade"])
frame.insert(0, "pupil_id", [f"P{i:04d}" for i in range(1, len(frame) + 1)])
frame.to_csv(Path(__file__).with_name("pupils.csv"), index=False)
