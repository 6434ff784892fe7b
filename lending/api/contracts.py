# Filled in by the contracts work.
urlpatterns: list = []
