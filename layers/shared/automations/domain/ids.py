"""Time-ordered identifiers (ULID layout): newer ids sort after older ones.

Run ids double as Step Functions execution names, so they keep to ``[A-Za-z0-9_]``
and stay far below the 80-character limit.
"""

from __future__ import annotations

import secrets
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(prefix: str) -> str:
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return f"{prefix}_{''.join(reversed(chars))}"
