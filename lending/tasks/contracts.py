# Filled in by the contracts work.
