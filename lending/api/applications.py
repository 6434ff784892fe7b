# Filled in by the applications work.
urlpatterns: list = []
