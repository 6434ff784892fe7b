"""The back office's own pages, listed on the admin's index for the people who may open them.

Django's admin index lists models. The officers' work also lives on pages that are not a model's list: the
collections queue, the scorecard monitoring page, a queue that is a filtered list (referred applications). Each app
registers such a page here with the permission its view checks, and ``templates/admin/index.html`` shows the pages
the signed-in user holds that permission for, with how many items wait where a count is cheap.

Core knows nothing of lending or underwriting: they register their pages from their own admin modules (imports
point down the layers), so the registry fills when the admin autodiscovers them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.urls import reverse


@dataclass(frozen=True)
class BackOfficePage:
    """One page: where it is, who may open it (the permission its view checks), and what it is for."""

    key: str
    title: Any  # a lazy translation
    url_name: str
    permission: str
    description: Any = ""
    query: str = ""  # e.g. "queue=referred": a queue that is a filtered list
    # How many items wait there (one indexed COUNT); None when the page is not a queue.
    waiting: Callable[[], int] | None = None
    # Where it sits on the index: the order an officer's day goes (queues first, then the views of the portfolio).
    position: int = 100

    def url(self) -> str:
        path = reverse(self.url_name)
        return f"{path}?{self.query}" if self.query else path


_PAGES: dict[str, BackOfficePage] = {}


def back_office_page_register(page: BackOfficePage) -> BackOfficePage:
    """Add ``page`` to the index (registering the same key again replaces it, so a module reloaded is harmless)."""
    _PAGES[page.key] = page
    return page


def back_office_pages_registered() -> list[BackOfficePage]:
    return sorted(_PAGES.values(), key=lambda page: (page.position, page.key))


@dataclass(frozen=True)
class BackOfficeLink:
    key: str
    title: str
    url: str
    description: str
    waiting: int | None


def back_office_links(*, user) -> list[BackOfficeLink]:
    """The pages ``user`` may open, in order, each with its address and what waits there."""
    links = []
    for page in back_office_pages_registered():
        if not (user.is_active and user.is_staff and user.has_perm(page.permission)):
            continue
        links.append(
            BackOfficeLink(
                key=page.key,
                title=str(page.title),
                url=page.url(),
                description=str(page.description),
                waiting=page.waiting() if page.waiting is not None else None,
            )
        )
    return links


__all__ = [
    "BackOfficeLink",
    "BackOfficePage",
    "back_office_links",
    "back_office_page_register",
    "back_office_pages_registered",
]
