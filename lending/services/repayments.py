# Filled in by the repayments work.
