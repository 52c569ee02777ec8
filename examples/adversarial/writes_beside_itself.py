"""Writes a cache file beside itself at import, as a script run from its own folder may: the folder is read-only
while it is graded, and its feedback says where it may write instead."""
import os

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "cache.txt"), "w") as cache:
    cache.write("tokenised data")
