# Filled in by the loans work.
urlpatterns: list = []
