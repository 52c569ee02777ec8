"""The grader's HTML pages are Jinja templates (grader/analysis/templates/), escaped by default."""

import jinja2


def signed(value: float | None) -> str:
    """A correlation as ``+0.42``; ``-`` where it is undefined."""
    return "-" if value is None else f"{value:+.2f}"


PAGES = jinja2.Environment(loader=jinja2.PackageLoader("grader.analysis"), autoescape=True, trim_blocks=True,
                           lstrip_blocks=True, undefined=jinja2.StrictUndefined)
PAGES.filters["signed"] = signed


def render(template: str, **values) -> str:
    return PAGES.get_template(template).render(**values)
