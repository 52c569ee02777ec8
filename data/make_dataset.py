"""Write ``data/reviews.csv``: short movie reviews labelled negative (0) or positive (1).

The texts are assembled from templates with a seeded random generator, so running
this script again reproduces the same bytes. The task is deliberately easy (each
review carries words of one polarity) so that the tiny, randomly initialised
models in ``tiny_models/`` can learn it in a few epochs on a CPU; it exists to
make training visible, not to benchmark anything.

    python data/make_dataset.py            # rewrites data/reviews.csv and data/heldout/
    python data/make_dataset.py --out X    # writes elsewhere (and X's folder/heldout/)

``data/heldout/reviews.csv`` holds reviews of neither split, drawn after them from the same generator:
the grader scores students' adapters on them (split ``public``, shown at submission, and ``private``,
at the end). ``data/heldout/reviews-unbalanced.csv``, drawn after those, has one positive review in
five, as real complaints or spam are unbalanced: a pack that ranks adapters by macro-F1 (peft-bert)
scores on it, where predicting the majority alone earns an accuracy of 0.8. Both stay with the grader:
the student bundle takes ``data/*.csv`` alone.
"""

import argparse
import csv
import random
from pathlib import Path

SEED = 1234
N_TRAIN, N_TEST = 320, 80
N_PUBLIC, N_PRIVATE = 100, 100  # the held-out reviews, in each held-out file
UNBALANCED = "reviews-unbalanced.csv"
POSITIVE_EVERY = 5  # in UNBALANCED: one positive review in five
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
              splits: tuple[str, ...] = ("train", "test"), positive_every: tuple[int, ...] | None = None
              ) -> list[tuple[str, int, str]]:
    """Duplicate-free ``(text, label, split)`` rows, each text ``make(rng, label)``; in each split one positive row
    in ``positive_every`` of it (2, balanced, by default)."""
    rng = random.Random(seed)
    seen: set[str] = set()
    rows = []
    for split, size, every in zip(splits, sizes, positive_every or (2,) * len(sizes), strict=True):
        for i in range(size):
            label = int(i % every == every - 1)
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
    rows = make_rows(sizes=(N_TRAIN, N_TEST) + (N_PUBLIC, N_PRIVATE) * 2,
                     splits=("train", "test") + ("public", "private") * 2,
                     positive_every=(2, 2, 2, 2, POSITIVE_EVERY, POSITIVE_EVERY))
    shown, held = N_TRAIN + N_TEST, N_PUBLIC + N_PRIVATE
    heldout = args.out.parent / "heldout"
    heldout.mkdir(exist_ok=True)
    for path, part in ((args.out, rows[:shown]), (heldout / args.out.name, rows[shown:shown + held]),
                       (heldout / UNBALANCED, rows[shown + held:])):
        write_csv(path, part)
        print(f"wrote {len(part)} reviews to {path}")


if __name__ == "__main__":
    main()
