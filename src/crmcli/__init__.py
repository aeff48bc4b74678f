"""crmcli: a command-line CRM toolkit on SQLite."""

__version__ = "0.1.0"
