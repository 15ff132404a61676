"""Row keys. Every table's `id` is an `Integer` column: `integer` (int4) on PostgreSQL, 64 bits on SQLite."""

#: The keys an `id` column can hold on both databases (PostgreSQL's int4, the narrower of the two). A key
#: outside names no row, and must not reach SQL: PostgreSQL refuses it as out of range, SQLite as too large.
KEY_RANGE = range(-(2**31), 2**31)


def storable(text: str) -> bool:
    """Whether a text key (a slug) can name a row at all: PostgreSQL's text holds no NUL character and
    refuses one even in a parameter, so no key has one, on either database."""
    return "\x00" not in text
