"""Initial schema: users, items, availability, events, model_versions, promotions.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EVENT_KINDS = ("rating", "watched", "dislike", "not_interested", "watchlist_add", "watchlist_remove",
               "impression", "click")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("genres", sa.JSON(), nullable=False),
        sa.Column("domain", sa.String(length=8), nullable=False),
        sa.Column("overview", sa.Text(), nullable=False),
        sa.Column("runtime", sa.Float(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.CheckConstraint(_in("domain", ("movie", "tv", "other")), name=op.f("ck_items_domain")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_items")),
        sa.UniqueConstraint("item_id", name=op.f("uq_items_item_id")),
    )
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data_checksum", sa.String(length=64), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("info", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_versions")),
        sa.UniqueConstraint("model", "version", name="uq_model_versions_model_version"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column("token_hash", sa.CHAR(length=64), nullable=True),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("region", sa.String(length=8), nullable=True),
        sa.Column("providers", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("external_id", name=op.f("uq_users_external_id")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_users_token_hash")),
    )
    op.create_table(
        "availability",
        sa.Column("item_pk", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(["item_pk"], ["items.id"], name=op.f("fk_availability_item_pk_items"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("item_pk", "provider", "region", name=op.f("pk_availability")),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_pk", sa.Integer(), nullable=False),
        sa.Column("item_pk", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("import_key", sa.String(length=255), nullable=True),
        sa.CheckConstraint(_in("kind", EVENT_KINDS), name=op.f("ck_events_kind")),
        sa.CheckConstraint(_in("source", ("import", "api")), name=op.f("ck_events_source")),
        sa.ForeignKeyConstraint(["item_pk"], ["items.id"], name=op.f("fk_events_item_pk_items"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_pk"], ["users.id"], name=op.f("fk_events_user_pk_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("import_key", name=op.f("uq_events_import_key")),
    )
    op.create_index("ix_events_item_pk", "events", ["item_pk"], unique=False)
    op.create_index("ix_events_user_pk_ts", "events", ["user_pk", "ts"], unique=False)
    op.create_table(
        "promotions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_pk", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.CheckConstraint(_in("kind", ("promote", "rollback")), name=op.f("ck_promotions_kind")),
        sa.ForeignKeyConstraint(["version_pk"], ["model_versions.id"],
                                name=op.f("fk_promotions_version_pk_model_versions"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotions")),
    )


def downgrade() -> None:
    op.drop_table("promotions")
    op.drop_index("ix_events_user_pk_ts", table_name="events")
    op.drop_index("ix_events_item_pk", table_name="events")
    op.drop_table("events")
    op.drop_table("availability")
    op.drop_table("users")
    op.drop_table("model_versions")
    op.drop_table("items")
