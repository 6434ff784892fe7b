from lending.servicing.admin import collections, loans  # noqa: F401
