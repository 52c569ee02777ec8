"""Every file written for one student stays under 1 MiB, whatever the submission made its messages say.

What a submission controls reaches its files as text: its import error and notebook cells (the summary
sentences) and what each failed test found. One import error of 300,000 characters that are not ASCII,
repeated in each test, once made a 2.0 MB results.json; the platforms cap what they take (GitHub's step
summary at 1 MiB, PrairieLearn's results at 1 MB). So the texts of one grade share a fixed number of
characters, ``CHARS``, before any file is written: a character costs at most 12 bytes in a file
(``json.dumps`` writes one outside the Basic Multilingual Plane as two ``\\uXXXX`` escapes; UTF-8 needs 4),
so the texts take at most 900,000 bytes, and the rest of a file (names, points, the grading context) the
remainder. Texts are cut in fair shares: each keeps all of itself if it fits in an equal share of what the
shorter ones left, so one huge message does not cost the others theirs.
"""

import dataclasses

from grader.grading.scoring import TestScore

FILE_BYTES = 1 << 20  # what every file for one student stays under
CHARS = 75_000  # the summary's and the tests' texts together: 12 bytes each at most, 900,000 bytes
SUMMARY_CHARS = 20_000  # of them, the summary's at most: the tests keep the rest
MARK = "\n[... {:,} characters left out ...]\n"


def fair_shares(lengths: list[int], budget: int) -> list[int]:
    """How many characters each text keeps: its length where it fits in an equal share of what is left."""
    shares = [0] * len(lengths)
    left, count = budget, len(lengths)
    for index in sorted(range(len(lengths)), key=lengths.__getitem__):
        shares[index] = min(lengths[index], left // count)
        left -= shares[index]
        count -= 1
    return shares


def cut(text: str, keep: int) -> str:
    """``text`` in at most ``keep`` characters: its start and its end (where the exception is), with how much was
    left out between."""
    if len(text) <= keep:
        return text
    room = keep - len(MARK.format(len(text)))
    if room <= 0:
        return text[:keep]
    head = room * 2 // 5
    tail = room - head
    return text[:head] + MARK.format(len(text) - head - tail) + (text[-tail:] if tail else "")


def encodable(text: str) -> str:
    """``text`` with what UTF-8 cannot write (a lone surrogate, which JSON can carry) replaced."""
    return text.encode("utf-8", "replace").decode("utf-8")


def fit(summary: list[str], tests: list[TestScore]) -> tuple[list[str], list[TestScore]]:
    """The summary sentences and the tests, their texts within ``CHARS`` characters in all."""
    summary = [encodable(sentence) for sentence in summary]
    kept = [cut(text, share) for text, share in zip(summary, fair_shares([len(s) for s in summary], SUMMARY_CHARS),
                                                    strict=True)]
    left = CHARS - sum(len(sentence) for sentence in kept)
    outputs = [encodable(test.output) for test in tests]
    shares = fair_shares([len(output) for output in outputs], left)
    return kept, [dataclasses.replace(test, output=cut(output, share))
                  for test, output, share in zip(tests, outputs, shares, strict=True)]
