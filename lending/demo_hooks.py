"""What the demo loader tells the apps above lending, which it cannot import (imports point down the layers).

``demo_portfolio_loaded`` is sent by ``manage.py load_demo`` once the demo's lending history is in place and the
nightly figures are computed, with ``today`` (the demo's date) and ``users`` (the demo logins by email). An app
higher up connects a receiver in its ``AppConfig.ready()`` to add its own demo data on top (the risk firewall runs
its demo stress scenarios). Receivers must change nothing when called again on the same day.
"""

from django.dispatch import Signal

demo_portfolio_loaded = Signal()
