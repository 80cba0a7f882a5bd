"""``dataset.conversations``: a conversation dataset's layout and its history mode."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ConversationsConfig"]


class ConversationsConfig(BaseModel):
    """A conversation dataset: one conversation a line, its turns a list (each turn a row)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    turns: str = Field("turns", description="The conversation's field holding its list of turns")
    messages: str | None = Field(
        None,
        description="Instead of turns: the field holding an OpenAI messages list; each user "
        "message opens a turn, the assistant message after it is its reference answer and "
        "carries the turn's expected value (under dataset.expected)",
    )
    reference: str = Field(
        "assistant", description="A turn's reference answer (the history in reference mode)"
    )
    tool_result: str = Field(
        "tool_result", description="A turn's tool result, sent back as the tool message"
    )
    history: Literal["reference", "live"] = Field(
        "reference",
        description="reference: earlier turns sent as written in the dataset; live: the "
        "model's own earlier answers sent back",
    )
