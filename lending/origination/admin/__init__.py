from lending.origination.admin import applications, payouts  # noqa: F401
