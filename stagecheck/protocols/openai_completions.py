"""``openai-completions``: OpenAI-compatible text completions (``/v1/completions``), plain or
streamed. The prompt is ``prompt_template`` filled from the row, or the single input's value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field, field_validator

from stagecheck.protocols.base import PreparedRequest, as_text, check_template, render_template
from stagecheck.protocols.openai_common import OpenAIAdapter, OpenAIOptions

__all__ = ["OpenAICompletionsAdapter", "OpenAICompletionsOptions"]


class OpenAICompletionsOptions(OpenAIOptions):
    """Options of the ``openai-completions`` protocol."""

    path: str = Field("/v1/completions", pattern=r"^/", description="Route, e.g. /v1/completions")
    prompt_template: str | None = Field(
        None, description="Prompt, str.format_map over the row, e.g. 'Q: {question}\\nA:'"
    )

    @field_validator("prompt_template")
    @classmethod
    def _template(cls, v: str | None) -> str | None:
        return None if v is None else check_template(v)


class OpenAICompletionsAdapter(OpenAIAdapter):
    """Requests to an OpenAI-compatible completions route."""

    name: ClassVar[str] = "openai-completions"
    Options: ClassVar[type[OpenAICompletionsOptions]] = OpenAICompletionsOptions
    options: OpenAICompletionsOptions
    _text_path = "choices[0].text"
    _delta_path = "choices[0].text"

    def problems(self) -> list[str]:
        if self.options.prompt_template is None and len(self.inputs) != 1:
            names = ", ".join(self.inputs) or "none"
            return [
                "endpoint.options.prompt_template: required when dataset.input is not exactly "
                f"one field (it is: {names})"
            ]
        return []

    @property
    def reads_inputs_only(self) -> bool:
        return self.options.prompt_template is None

    def prepare(self, inputs: Mapping[str, Any], record: Mapping[str, Any]) -> PreparedRequest:
        template = self.options.prompt_template
        if template is not None:
            prompt = render_template(template, record, "prompt_template")
        elif len(inputs) == 1:
            prompt = as_text(next(iter(inputs.values())))
        else:
            raise ValueError("several input fields need a prompt_template")
        return PreparedRequest(
            path=self.options.path, body=self._body("prompt", prompt), stream=self.stream
        )

    @staticmethod
    def _choice_text(choice: Any) -> Any:
        return choice["text"]

    @staticmethod
    def _delta_text(choice: Any) -> Any:
        return choice.get("text")
