"""Write ``data/reviews.csv``: short movie reviews labelled negative (0) or positive (1).

The texts are assembled from templates with a seeded random generator, so running
this script again reproduces the same bytes. The task is deliberately easy (each
review carries words of one polarity) so that the tiny, randomly initialised
models in ``tiny_models/`` can learn it in a few epochs on a CPU; it exists to
make training visible, not to benchmark anything.

    python data/make_dataset.py            # rewrites data/reviews.csv and data/heldout/reviews.csv
    python data/make_dataset.py --out X    # writes elsewhere (and X's folder/heldout/)

``data/heldout/reviews.csv`` holds reviews of neither split, drawn after them from the same generator:
the grader scores students' adapters on them (split ``public``, shown at submission, and ``private``,
at the end). It stays with the grader: the student bundle takes ``data/*.csv`` alone.
"""

import argparse
import csv
import random
from pathlib import Path

SEED = 1234
N_TRAIN, N_TEST = 320, 80
N_PUBLIC, N_PRIVATE = 100, 100  # the held-out reviews
LABELS = ("negative", "positive")

SUBJECTS = [
    "the film", "this movie", "the plot", "the acting", "the soundtrack",
    "the ending", "the story", "the cast", "the dialogue", "the script",
    "the lead actor", "the director's work", "the pacing", "the visuals",
]
ADJECTIVES = {
    0: ["dull", "awful", "boring", "clumsy", "tedious", "terrible", "bland",
        "messy", "painful", "forgettable", "predictable", "lifeless"],
    1: ["wonderful", "brilliant", "moving", "delightful", "superb", "charming",
        "gripping", "beautiful", "clever", "fantastic", "memorable", "stunning"],
}
VERDICTS = {
    0: ["i want my money back", "i walked out early", "skip this one",
        "a waste of an evening", "i nearly fell asleep"],
    1: ["i would watch it again", "go and see it", "a real treat",
        "i loved every minute", "highly recommended"],
}
INTENSIFIERS = ["really", "truly", "quite", "very", "utterly", "rather"]
TEMPLATES = [
    "{subject} was {adj} .",
    "{subject} was {intensifier} {adj} .",
    "i thought {subject} was {adj} .",
    "{subject} felt {adj} and {adj2} .",
    "{subject} is {adj} , {verdict} .",
    "honestly , {subject} was {intensifier} {adj} .",
    "{verdict} : {subject} was {adj} .",
    "{subject} was {adj} and {subject2} was {adj2} .",
]


def make_review(rng: random.Random, label: int) -> str:
    subject, subject2 = rng.sample(SUBJECTS, 2)
    adj, adj2 = rng.sample(ADJECTIVES[label], 2)
    return rng.choice(TEMPLATES).format(
        subject=subject, subject2=subject2, adj=adj, adj2=adj2,
        intensifier=rng.choice(INTENSIFIERS), verdict=rng.choice(VERDICTS[label]),
    )


def make_rows(seed: int = SEED, make=make_review, sizes: tuple[int, ...] = (N_TRAIN, N_TEST),
              splits: tuple[str, ...] = ("train", "test")) -> list[tuple[str, int, str]]:
    """Balanced, duplicate-free ``(text, label, split)`` rows, each text ``make(rng, label)``."""
    rng = random.Random(seed)
    seen: set[str] = set()
    rows = []
    for split, size in zip(splits, sizes, strict=True):
        for i in range(size):
            label = i % 2
            text = make(rng, label)
            while text in seen:
                text = make(rng, label)
            seen.add(text)
            rows.append((text, label, split))
    return rows


def write_csv(path: Path, rows) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(("text", "label", "split"))
        writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("reviews.csv"))
    args = parser.parse_args()
    rows = make_rows(sizes=(N_TRAIN, N_TEST, N_PUBLIC, N_PRIVATE), splits=("train", "test", "public", "private"))
    shown = [row for row in rows if row[2] in ("train", "test")]
    write_csv(args.out, shown)
    heldout = args.out.parent / "heldout" / args.out.name
    heldout.parent.mkdir(exist_ok=True)
    write_csv(heldout, rows[len(shown):])
    print(f"wrote {len(shown)} reviews to {args.out} and {len(rows) - len(shown)} to {heldout}")


if __name__ == "__main__":
    main()
