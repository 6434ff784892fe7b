# Filled in by the daily servicing work.
