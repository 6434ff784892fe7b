"""Where the apps above lending add their part to the demo that ``load_demo`` builds.

``load_demo`` (lending's shell) never imports the apps above it. An app that has something to show in the demo
connects a receiver to ``demo_loaded`` in its ``AppConfig.ready()``; the loader sends it once the logins, the
merchants and the history are in place, inside no transaction of its own. Receivers take ``today``, ``officer``
and ``senior`` (the demo's officers) as keyword arguments, must be idempotent (a second load the same day changes
nothing), and return one line for the loader to print, or None.
"""

from django.dispatch import Signal

demo_loaded = Signal()

__all__ = ["demo_loaded"]
