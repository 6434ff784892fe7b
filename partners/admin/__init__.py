from partners.admin import money  # noqa: F401
