# Filled in by the daily servicing work.
__all__: list = []
