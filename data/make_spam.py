"""Write ``data/sms_spam.csv``: short text messages labelled ham (0) or spam (1), for the lora-from-scratch pack.

The TP3 handout fine-tunes a GPT to classify the UCI SMS Spam Collection; no run may
download it, so this script writes a stand-in of the same shape (text, label, split),
assembled from templates with a seeded random generator: running it again gives the
same bytes. Each message carries words of its class, so that a tiny GPT learns the
task in a few steps on a CPU; it shows training working, it benchmarks nothing.

    python data/make_spam.py            # rewrites data/sms_spam.csv
    python data/make_spam.py --out X    # writes elsewhere
"""

import argparse
import random
from pathlib import Path

from make_dataset import make_rows, write_csv  # the same rows and CSV dialect as reviews.csv

SEED = 8614
N_TRAIN, N_TEST = 240, 60

HAM = [
    "are we still on for {time} ?", "{name} , can you pick up {item} on the way home",
    "running late , see you at {time}",
    "thanks for {item} , {name}", "call me when you get this", "i left {item} at yours , will grab it at {time}",
    "did you see {name} today ?", "ok , {time} works for me", "dinner at {time} ? {name} is coming too",
    "sorry , in a meeting until {time}",
]
SPAM = [
    "WINNER ! you have won a {prize} . call {number} now to claim", "FREE {prize} ! text {code} to {number}",
    "urgent : your account needs verifying , reply {code} to {number}", "claim your {prize} today , only {price} !",
    "congratulations , a {prize} is waiting . txt {code} to {number}",
    "you have been selected for a {prize} , call {number}",
    "limited offer : {prize} for {price} , reply {code} now",
]
FIELDS = {
    "time": ["6pm", "noon", "7.30", "half past eight", "10am", "lunch"],
    "name": ["sam", "alex", "mum", "jo", "priya", "tom"],
    "item": ["the keys", "milk", "the charger", "your book", "the tickets", "bread"],
    "prize": ["cash prize", "holiday", "new phone", "gift card", "cruise", "voucher"],
    "number": ["08712300000", "09061701461", "87121", "80086"],
    "code": ["WIN", "CLAIM", "YES", "PRIZE"],
    "price": ["1.50", "99p", "2 pounds", "10p"],
}


def make_message(rng: random.Random, label: int) -> str:
    template = rng.choice(SPAM if label else HAM)
    return template.format(**{key: rng.choice(values) for key, values in FIELDS.items()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("sms_spam.csv"))
    args = parser.parse_args()
    rows = make_rows(SEED, make_message, (N_TRAIN, N_TEST))
    write_csv(args.out, rows)
    print(f"wrote {len(rows)} messages to {args.out}")


if __name__ == "__main__":
    main()
