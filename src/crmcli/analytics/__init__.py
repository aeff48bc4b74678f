"""Models with real math: forecast, clv, stats, rfm, classify, dedupe."""
