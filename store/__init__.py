"""PostgreSQL: migrations, the projector of the core's events, history queries."""
