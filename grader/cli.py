"""The ``lora-grader`` command line (also ``python -m grader``): a thin layer over the modules."""

import argparse
import sys
from pathlib import Path

from . import layout, release, template


def shown(path: Path) -> Path:
    """``path`` relative to the checkout when it lies inside it, for shorter messages."""
    return path.relative_to(layout.ROOT) if path.is_relative_to(layout.ROOT) else path


def cmd_template(args) -> int:
    files = template.render(layout.REFERENCE)
    if args.check:
        stale = template.stale_files(files, layout.TEMPLATE_DIR)
        for path in stale:
            print(f"{shown(path)} is out of date with {shown(layout.REFERENCE)}; "
                  "run: python -m grader template", file=sys.stderr)
        if not stale:
            print("student_template/ matches the reference")
        return 1 if stale else 0
    template.write(files, layout.TEMPLATE_DIR)
    for name in files:
        print(f"wrote {shown(layout.TEMPLATE_DIR / name)}")
    return 0


def cmd_release(args) -> int:
    release.build(args.out)
    print(f"wrote the student bundle to {args.out}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="lora-grader", description="Tools for the LoRA/BERT assignment.")
    commands = parser.add_subparsers(dest="command", required=True)
    generate = commands.add_parser("template", help="regenerate student_template/ from reference/lora_bert.py")
    generate.add_argument("--check", action="store_true", help="write nothing; exit 1 if student_template/ is stale")
    generate.set_defaults(run=cmd_template)
    bundle = commands.add_parser("release", help="write the student bundle (template, public tests, models, data)")
    bundle.add_argument("out", type=Path, help="a folder that does not exist yet")
    bundle.set_defaults(run=cmd_release)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (template.MarkerError, release.ReleaseError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
