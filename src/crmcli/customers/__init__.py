"""Customer domain rules: the profile `customer show` assembles."""
