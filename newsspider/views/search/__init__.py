"""Full-text search of the dataset: Chinese-aware tokens, a SQLite database, queries."""
