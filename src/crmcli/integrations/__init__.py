"""Exchange with other systems: the data warehouse (star schema), mail and calendars (OA).

Pure parsing and file-writing code; SQL stays in crmcli.db (warehouse.py, office.py).
"""
