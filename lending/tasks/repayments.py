# Filled in by the repayments work.
__all__: list = []
