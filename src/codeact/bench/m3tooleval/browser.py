"""The web-browsing domain's browser: a small site of shipped pages, viewed five lines at a time.

Rendering follows the original ``WebBrowser`` (``tasks/impl/web_browsing/__init__.py``) so that
what the model sees is what the benchmark's authors designed the tasks around.
"""

from __future__ import annotations

import json
from functools import lru_cache

from ...tools import Tool, tool
from .tasks import data_text

__all__ = ["WebBrowser", "browser_tools"]


@lru_cache(maxsize=1)
def _pages() -> dict[str, str]:
    rows = [json.loads(line) for line in data_text("web_pages.jsonl").splitlines() if line]
    return {row["name"]: row["content"] for row in rows}


class WebBrowser:
    """A browser over the shipped pages, starting at ``/``, with a back history."""

    lines_per_view = 5

    def __init__(self, start: str = "/") -> None:
        self.pages = _pages()
        self.current = start
        self.history: list[str] = []
        self.position = 0

    @property
    def lines(self) -> list[str]:
        return self.pages[self.current].split("\n")

    def open(self, name: str) -> str:
        self.history.append(self.current)
        self.current, self.position = name, 0
        return f"[Opened page: {name}]\n" + self.view()

    def click_url(self, url: str) -> str:
        url = url.replace("'", "").strip()
        if url in self.pages:
            return self.open(url)
        return "[URL not found.]"

    def go_to_previous_page(self) -> str:
        if not self.history:
            return "[No previous page.]"
        self.current, self.position = self.history.pop(), 0
        return f"[Opened page: {self.current}]\n" + self.view()

    def scroll_down(self) -> str:
        if self.position + self.lines_per_view < len(self.lines):
            self.position += self.lines_per_view
            return self.view()
        return "[Reached the bottom of the page.]\n"

    def scroll_up(self) -> str:
        if self.position > 0:
            self.position -= self.lines_per_view
            return self.view()
        return "[Reached the top of the page.]\n"

    def view(self) -> str:
        lines, per = self.lines, self.lines_per_view
        total = len(lines)
        page = self.position // per + 1 if total > per else 1
        pages = total // per + 1 if total > per else 1
        shown = "\n".join(lines[self.position : self.position + per])
        return (
            f"{'-' * 10}\n[Web Page Name: {self.current}]\n"
            f"[Viewing page {page} of {pages}]\n\n{shown}\n{'-' * 10}"
        )


def browser_tools() -> list[Tool]:
    """The five browsing tools, on a new browser (one per benchmark run)."""
    browser = WebBrowser()

    @tool
    def click_url(url: str) -> str:
        """Open a link of the current page; a link looks like [Clickable '<url>'] there.

        Args:
            url: The link's target, e.g. "/products".

        Returns:
            The rendered first view of the opened page.
        """
        return browser.click_url(url)

    @tool
    def go_to_previous_page() -> str:
        """Go back to the previous page; returns its rendered first view."""
        return browser.go_to_previous_page()

    @tool
    def scroll_down() -> str:
        """Scroll the current page down by five lines; returns the rendered view."""
        return browser.scroll_down()

    @tool
    def scroll_up() -> str:
        """Scroll the current page up by five lines; returns the rendered view."""
        return browser.scroll_up()

    @tool
    def view() -> str:
        """The rendered current view of the current page (five lines, with the page name)."""
        return browser.view()

    return [click_url, go_to_previous_page, scroll_down, scroll_up, view]
