"""Students' pseudonyms on the adapters' leaderboard, from a roster the course gives (``--pseudonyms CSV``).

A leaderboard is shown to the class, as Kaggle's and Gradescope's are, under names the
students chose. The roster has a ``submission`` column (the name each submission has, as
``gradebook --roster`` reads it) and a ``pseudonym`` column; ``leaderboard.csv`` and the
class report's leaderboard name each student by pseudonym where the roster gives one, and
by submission otherwise. The graded folder keeps the last roster given (``pseudonyms.csv``),
so that a report written again later names them alike; a pseudonym is no part of a grade, so
a new roster regrades no one. Read with the standard library's csv: nothing here needs more.
"""

import csv
from collections import Counter
from pathlib import Path

from grader.grading.outputs import csv_text, write_atomic

COLUMNS = ("submission", "pseudonym")
KEPT = "pseudonyms.csv"  # in a graded folder: the roster its leaderboard was last named by


class PseudonymError(ValueError):
    """A roster of pseudonyms that cannot be used as it is."""


def read(path: Path) -> dict[str, str]:
    """Submission name -> pseudonym; a row without either is skipped, a pseudonym given twice refused."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise PseudonymError(f"{path}: cannot be read ({error})") from None
    if not rows or not set(COLUMNS) <= set(rows[0]):
        raise PseudonymError(f"{path}: a roster of pseudonyms needs the columns {' and '.join(COLUMNS)}, with a "
                             "row per student")
    names: dict[str, str] = {}
    for row in rows:
        submission, pseudonym = ((row[column] or "").strip() for column in COLUMNS)
        if not (submission and pseudonym):
            continue
        if names.get(submission, pseudonym) != pseudonym:
            raise PseudonymError(f"{path}: the submission {submission!r} has two pseudonyms, {names[submission]!r} "
                                 f"and {pseudonym!r}")
        names[submission] = pseudonym
    shared = [name for name, count in Counter(names.values()).items() if count > 1]
    if shared:
        raise PseudonymError(f"{path}: the pseudonym {shared[0]!r} is given to more than one submission; a "
                             "leaderboard needs one name per student")
    return names


def given_or_kept(roster: Path | None, out: Path) -> dict[str, str]:
    """The roster given to this command, which the graded folder ``out`` then keeps; else the one it kept."""
    if roster is not None:
        names = read(roster)
        write_atomic(out / KEPT, csv_text(list(COLUMNS), sorted(names.items())))
        return names
    return read(out / KEPT) if (out / KEPT).is_file() else {}
