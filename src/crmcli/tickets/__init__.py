"""The helpdesk domain: workflow rules, SLA clock, assignment, auto-replies and their policy.

Pure logic on plain values; the SQL lives in `crmcli.db.tickets` / `crmcli.db.agents`, and
`crmcli.tickets.service` joins the two inside one transaction per operation.
"""
