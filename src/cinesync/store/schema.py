"""ORM tables of the service store (SQLAlchemy 2): users, items, availability, events, model versions.

The same metadata drives the Alembic migrations in ``cinesync/store/migrations`` (a test checks
they agree). Foreign-key columns are named ``*_pk`` (integer row ids) so they are never confused
with the external string ids ``users.external_id`` / ``items.item_id``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    CHAR,
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

EVENT_KINDS = ("rating", "watched", "dislike", "not_interested", "watchlist_add", "watchlist_remove",
               "impression", "click")
EVENT_SOURCES = ("import", "api")
ITEM_DOMAINS = ("movie", "tv", "other")
PROMOTION_KINDS = ("promote", "rollback")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Timezone-aware 'now' (UTC) for created_at / at columns."""
    return datetime.now(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so constraint names match across dialects."""

    metadata = MetaData(naming_convention=NAMING)


#: the longest user id / item id the store holds (the HTTP schema and the importer use the same limits)
USER_ID_LEN = 128
ITEM_ID_LEN = 64


class User(Base):
    """A person (or an imported data-set user). ``token_hash`` = sha256 hex of the API token."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(USER_ID_LEN), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    token_hash: Mapped[str | None] = mapped_column(CHAR(64), unique=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    region: Mapped[str | None] = mapped_column(String(8))
    providers: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def __repr__(self) -> str:
        return f"User(id={self.id}, external_id={self.external_id!r}, admin={self.is_admin})"


class Item(Base):
    """A catalogue entry; ``item_id`` is the data set's own id (e.g. MovieLens movieId)."""

    __tablename__ = "items"
    __table_args__ = (CheckConstraint(_in("domain", ITEM_DOMAINS), name="domain"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[str] = mapped_column(String(ITEM_ID_LEN), unique=True)
    title: Mapped[str] = mapped_column(String(500), default="")
    year: Mapped[int | None] = mapped_column(Integer)
    genres: Mapped[list[str]] = mapped_column(JSON, default=list)
    domain: Mapped[str] = mapped_column(String(8), default="movie")
    overview: Mapped[str] = mapped_column(Text, default="")
    runtime: Mapped[float | None] = mapped_column(Float)  # minutes
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    def __repr__(self) -> str:
        return f"Item(item_id={self.item_id!r}, title={self.title!r})"


class Availability(Base):
    """Item ``item_pk`` streams on ``provider`` in ``region`` (ISO country code, upper case)."""

    __tablename__ = "availability"

    item_pk: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    provider: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(8), primary_key=True)


class Event(Base):
    """One thing a user did to an item. ``value`` is the rating (0.5..5) for rating/watched events.

    ``ts`` = epoch seconds. Imported rows carry ``import_key`` (unique) so re-imports add nothing.
    """

    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint(_in("kind", EVENT_KINDS), name="kind"),
        CheckConstraint(_in("source", EVENT_SOURCES), name="source"),
        Index("ix_events_user_pk_ts", "user_pk", "ts"),
        Index("ix_events_item_pk", "item_pk"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    item_pk: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[float | None] = mapped_column(Float)
    ts: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(8), default="api")
    import_key: Mapped[str | None] = mapped_column(String(255), unique=True)

    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)
    item: Mapped[Item] = relationship(lazy="joined", innerjoin=True)

    def __repr__(self) -> str:
        return f"Event(id={self.id}, kind={self.kind!r}, value={self.value}, ts={self.ts})"


class ModelVersion(Base):
    """A trained artifact: model name + per-name version number, where it lives, what it scored."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("model", "version", name="uq_model_versions_model_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    data_checksum: Mapped[str] = mapped_column(String(64), default="")
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # data counts, timings

    @property
    def label(self) -> str:
        """Human name, e.g. ``ease-v3``."""
        return f"{self.model}-v{self.version}"

    def __repr__(self) -> str:
        return f"ModelVersion(id={self.id}, {self.label})"


class Promotion(Base):
    """The served version is the latest promotion; kind "rollback" records a rollback."""

    __tablename__ = "promotions"
    __table_args__ = (CheckConstraint(_in("kind", PROMOTION_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_pk: Mapped[int] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    kind: Mapped[str] = mapped_column(String(16), default="promote")

    version: Mapped[ModelVersion] = relationship(lazy="joined", innerjoin=True)
