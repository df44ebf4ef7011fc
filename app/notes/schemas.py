"""What the notes API accepts: pydantic models, so bad input gets a 4xx naming each bad field."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from notes.models import BODY_MAX, TITLE_MAX

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX)]


class NewNote(BaseModel):
    """``POST /api/notes``'s body."""

    model_config = ConfigDict(extra="forbid", strict=True)

    title: Title
    body: Annotated[str, Field(max_length=BODY_MAX)] = ""


class ListQuery(BaseModel):
    """``GET /api/notes``'s query: a page of at most ``limit`` notes, those older than ``before`` (an id)."""

    model_config = ConfigDict(extra="forbid")

    limit: Annotated[int, Field(ge=1, le=100)] = 20
    before: Annotated[int | None, Field(ge=1)] = None


def field_errors(error: ValidationError) -> dict[str, str]:
    """Each bad field (dotted for nested ones; ``body`` for the body as a whole) with pydantic's message."""
    return {".".join(str(part) for part in item["loc"]) or "body": item["msg"] for item in error.errors()}
