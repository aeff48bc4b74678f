"""Customer domain rules: the field rules (rules.py), the company link and custom fields of
add / update (links.py, fields.py), the profile `customer show` assembles (profile.py) and
finishing an erasure (purge.py)."""
