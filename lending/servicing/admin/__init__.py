from lending.servicing.admin import collections, loans, payments  # noqa: F401
