"""Partners' models, one module per aggregate."""
