"""The notes table, as SQLAlchemy maps it (migrations/ creates it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Identity, String, Text, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

TITLE_MAX = 200
BODY_MAX = 10_000


class Base(DeclarativeBase):
    """The declarative base of the app's tables."""


class Note(Base):
    """A note: a title, a body, when it was written."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    def to_json(self) -> dict[str, object]:
        """The note as the API answers it."""
        return Note.row_json(self)

    @staticmethod
    def row_json(row: Any) -> dict[str, object]:
        """A note, or a row of the notes table, as the API answers it."""
        return {
            "id": row.id,
            "title": row.title,
            "body": row.body,
            "created_at": row.created_at.isoformat(),
        }
