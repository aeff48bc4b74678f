"""Customer domain rules: export, profile."""
