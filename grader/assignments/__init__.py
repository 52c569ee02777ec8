"""Assignment packs: each course's assignment is data (``assignment.toml``), which the harness reads."""
