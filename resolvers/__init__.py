"""Async data access and batch loading. Functions take an open connection; callers own the transaction."""
