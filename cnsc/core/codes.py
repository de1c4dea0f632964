"""Random public identifiers: never the primary key in a URL."""

import secrets

# No 0/O, 1/I/L: codes are read aloud and typed from paper.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def random_code(length: int = 10) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))
