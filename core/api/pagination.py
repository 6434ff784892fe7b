"""The one paginator every list endpoint uses: cursors, newest first.

Cursors rather than page numbers because the lists (sales days, applications, repayments) grow while a client
pages through them: a cursor never shows a row twice or skips one, and costs the same on page 1 and page 900.
A cursor page also never counts the list (there is no ``count`` in the answer), so a page costs the same over
fifty thousand rows or five million (``bench/admin_lists.py``).
"""

from rest_framework import pagination


class DefaultCursorPagination(pagination.CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
