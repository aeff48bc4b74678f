"""Pure report functions: repository data -> dicts of named sections / pandas DataFrames.

One module per report family (comm, tickets, value, loyalty, dashboard, customers, quality).
"""
