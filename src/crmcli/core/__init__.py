"""The foundation: errors, configuration, the clock, field parsers, masking, safe files.

Imports nothing else from crmcli.
"""
