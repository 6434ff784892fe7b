# Filled in by the repayments work.
urlpatterns: list = []
