"""Documentation sources: Markdown pages with front matter, their headings and links."""

from portal.docs.loader import link_problem, load_docs, resolve_link, split_front_matter
from portal.docs.markdown import Heading, Link, find_headings, find_links, slugify
from portal.docs.model import DocPage, DocSet

__all__ = [
    "DocPage",
    "DocSet",
    "Heading",
    "Link",
    "find_headings",
    "find_links",
    "link_problem",
    "load_docs",
    "resolve_link",
    "slugify",
    "split_front_matter",
]
