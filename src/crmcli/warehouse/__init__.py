"""The warehouse export: a star schema in Parquet or CSV that DuckDB, Spark or any warehouse reads."""
