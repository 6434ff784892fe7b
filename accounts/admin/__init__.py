from accounts.admin import users  # noqa: F401
