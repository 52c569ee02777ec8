"""Fails at import with an error of 600,000 characters, none of them ASCII (one a lone surrogate, which JSON carries
and UTF-8 cannot write): its feedback states the error once, each test says it in a line, every file stays under
1 MiB."""

raise ValueError("é" * 300_000 + "\ud800" + "😀" * 300_000)
