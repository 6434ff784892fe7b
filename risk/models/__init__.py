"""The risk firewall's models, one module per aggregate."""
