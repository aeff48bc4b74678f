"""Bringing data in: CSV sources, the one import pipeline, one module per entity, mail and calendars."""
