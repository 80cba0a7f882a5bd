"""Reading hostile YAML safely: parsed once, with bounded size, depth and alias expansion.

PyYAML shares the node of an alias between its uses, so a few hundred bytes of nested aliases
(an "alias bomb") stand for billions of nodes: any walk over the document (line tracking,
``${VAR}`` interpolation, validation) would expand them all. The composed node graph is measured
first, with memoisation (cost proportional to the file, not to its expansion), and a document
whose expansion exceeds :data:`MAX_NODES` nodes or :data:`MAX_DEPTH` levels, or whose aliases
refer to themselves, is refused before anything walks it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

__all__ = ["MAX_NODES", "MAX_DEPTH", "MAX_BYTES", "YAMLProblem", "read_yaml", "yaml_value"]

MAX_NODES = 20_000  # a scenario has tens to hundreds of nodes
MAX_DEPTH = 64
MAX_BYTES = 1 << 20  # 1 MiB of scenario text


@dataclass
class YAMLProblem(Exception):
    """Why a YAML text cannot be used; ``line`` is 1-based (None: unknown)."""

    line: int | None
    message: str


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _measure(root: yaml.Node) -> None:
    """Raise :class:`YAMLProblem` if the document, aliases expanded, is too big or deep, or
    recursive. Iterative (no recursion limit) and memoised per node: linear in the file."""
    done: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded size, height)
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            size, height = 1, 1
            for child in _children(node):
                child_size, child_height = done[id(child)]
                size += child_size
                height = max(height, child_height + 1)
            on_path.discard(key)
            if size > MAX_NODES:
                raise YAMLProblem(
                    _line(node),
                    f"the document expands to more than {MAX_NODES} values "
                    "(aliases multiply them): refused",
                )
            if height > MAX_DEPTH:
                raise YAMLProblem(_line(node), f"nested more than {MAX_DEPTH} levels deep")
            done[key] = (size, height)
            continue
        if key in done:
            continue
        if key in on_path:
            raise YAMLProblem(_line(node), "an alias refers to a node that contains it")
        on_path.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in on_path:
                raise YAMLProblem(_line(child), "an alias refers to a node that contains it")
            if id(child) not in done:
                stack.append((child, False))


class _Loader(yaml.SafeLoader):
    """SafeLoader whose construction errors name the line of the value at fault."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, OverflowError) as exc:
            # e.g. an integer of more than 4300 digits, a date such as 2024-13-45
            reason = (str(exc).splitlines() or [type(exc).__name__])[0][:120]
            if node.tag.endswith(":int"):
                reason = "integer too large"
            raise YAMLProblem(_line(node), f"a value cannot be read: {reason}") from None


def _yaml_error(exc: yaml.YAMLError) -> YAMLProblem:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or (str(exc).splitlines() or ["?"])[0]
    return YAMLProblem(mark.line + 1 if mark is not None else None, f"not valid YAML: {problem}")


def read_yaml(
    text: str, on_nodes: Callable[[yaml.Node], None] | None = None
) -> tuple[yaml.Node | None, Any]:
    """The node tree and the data of one YAML document, parsed once; ``on_nodes`` sees the
    measured tree before construction (which flattens ``<<`` merges in place), e.g. to note
    line numbers. Raise :class:`YAMLProblem` for text that is not YAML or is too big, deep or
    recursive."""
    if len(text) > MAX_BYTES:
        raise YAMLProblem(None, f"larger than {MAX_BYTES // 1024} KiB: not a scenario")
    try:
        loader = _Loader(text)  # checks for unprintable characters at once
    except yaml.YAMLError as exc:
        raise _yaml_error(exc) from None
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as exc:
            raise _yaml_error(exc) from None
        except RecursionError:
            raise YAMLProblem(None, f"nested more than {MAX_DEPTH} levels deep") from None
        if node is None:
            return None, None
        _measure(node)
        if on_nodes is not None:
            on_nodes(node)
        try:
            data = loader.construct_document(node)
        except yaml.YAMLError as exc:
            raise _yaml_error(exc) from None
        except (ValueError, TypeError, OverflowError, RecursionError) as exc:
            # e.g. an integer of more than 4300 digits, a date such as 2024-13-45
            reason = (str(exc).splitlines() or [type(exc).__name__])[0][:120]
            raise YAMLProblem(None, f"a value cannot be read: {reason}") from None
        return node, data
    finally:
        loader.dispose()


def yaml_value(text: str) -> Any:
    """A ``--set`` value read as YAML (``3``, ``true``, ``[a, b]``), or the text itself when it
    is not valid (or not safe) YAML."""
    if not text.strip():
        return ""
    try:
        _, data = read_yaml(text)
    except YAMLProblem:
        return text
    return data
