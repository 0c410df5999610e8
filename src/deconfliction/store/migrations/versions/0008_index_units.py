"""The spatial index holds altitudes in km and times in hours (`deconfliction.store.tx.ALT_PER_M`).

Revision ID: 0008
Revises: 0007

Before, ``volume_index`` held metres and seconds, which made SQLite's R*Tree split its nodes
along time and altitude only (see `ALT_PER_M`). Every row is rescaled in place; SQLite's R*Tree
rounds the new values outward again, so the index stays conservative. PostgreSQL's GiST index
is over expressions of the same columns and follows the rows.
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# The constants as of this revision (tx.py may change them later; this revision may not).
_ALT = 1e-3
_T = 1.0 / 3600.0


def _scale(alt: float, t: float) -> None:
    op.execute(
        f"UPDATE volume_index SET min_alt = min_alt * {alt!r}, max_alt = max_alt * {alt!r}, "
        f"min_t = min_t * {t!r}, max_t = max_t * {t!r}"
    )


def upgrade() -> None:
    _scale(_ALT, _T)


def downgrade() -> None:
    _scale(1.0 / _ALT, 3600.0)
