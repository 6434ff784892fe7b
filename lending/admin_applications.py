# Filled in by the officer back-office work.
