"""The seeded demo data set."""
