from lending.origination.admin import applications, concessions, payouts  # noqa: F401
