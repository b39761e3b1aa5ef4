"""Safe YAML with line numbers, for every file a writer edits.

Only plain data is built (mappings, lists, strings, numbers, booleans, null); tags such as
`!!python/object` and aliases are refused. The implicit types follow YAML 1.2's core schema,
so `no` stays a string (Norwegian), `09:00` stays a string and dates stay strings for
scheduler.content.schedule to read with the campaign's time zone.
"""

from __future__ import annotations

import re
from itertools import accumulate
from typing import Any, ClassVar

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, SequenceNode

from scheduler.words import N_, Said

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_DEPTH = 100  # collections inside collections; front matter needs a handful
_NESTING = "[{-:?"  # each level of nesting is opened by one of these, so their count bounds the depth
_BREAKS = re.compile("[\n\x85\u2028\u2029]")  # what libyaml counts as line breaks
# `key: value` whose plain (unquoted) value holds another ': ' or ends in ':' (`title: Dag 1: start`).
_COLON_IN_VALUE = re.compile(r"^[ ]*(?:-[ ]+)*([^\s#'\"\[{?:-][^:#]*?):[ ]+(?![\s'\"\[{|>&*!#])[^#]*?:(?:[ ]|$)")


class YamlError(Exception):
    """The text is not YAML this project accepts; `line` is 1-based; `said`: the message kept for translation."""

    def __init__(self, message: Said, line: int) -> None:
        super().__init__(str(message))
        self.message = str(message)
        self.said = message
        self.line = line


class _Refused(ConstructorError):
    """This project's own refusal of a YAML construct, its words kept for translation."""

    def __init__(self, said: Said, mark: Any) -> None:
        super().__init__(None, None, str(said), mark)
        self.said = said


_TAG_NOT_ALLOWED = N_("this YAML tag is not allowed (only plain data is)")


class LineDict(dict[Any, Any]):
    """A mapping that remembers the line of each key and of itself, and where each value's text is."""

    line: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[Any, int] = {}
        self.value_lines: dict[Any, tuple[int, int]] = {}  # of values not on their key's line alone

    def line_of(self, key: Any) -> int:
        return self.lines.get(key, self.line)

    def value_lines_of(self, key: Any) -> tuple[int, int]:
        """The first and last line of the value's text (a block scalar starts below its key)."""
        return self.value_lines.get(key) or (self.line_of(key), self.line_of(key))


class LineList(list[Any]):
    """A list that remembers the line of each item and of itself."""

    line: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[int] = []

    def line_of(self, index: int) -> int:
        return self.lines[index] if 0 <= index < len(self.lines) else self.line


class _Loader(_Base):  # type: ignore[misc]
    yaml_implicit_resolvers: ClassVar[dict[str, list[tuple[str, re.Pattern[str]]]]] = {}
    yaml_constructors: ClassVar[dict[str | None, Any]] = dict(yaml.SafeLoader.yaml_constructors)
    #: The text's line (0-based) of each of YAML's lines, when U+0085/2028/2029 make them differ.
    text_lines: list[int] | None = None

    def line(self, mark: Any) -> int:
        """The 1-based line of `mark` in the text."""
        return _text_line(mark.line, self.text_lines)

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        if node in self.constructed_objects:
            raise _Refused(Said.of(N_("aliases (*name) are not allowed here")), node.start_mark)
        return super().construct_object(node, deep=deep)


class _Dumper(yaml.SafeDumper):
    """Writes a string plain only where YAML 1.1 (other readers) and this module's 1.2 core schema
    both read it back as that string: `0E0`, `no` and `2027-11-15` are quoted."""

    def represent_str(self, data: str) -> Any:
        if _BREAKS.search(data.replace("\n", "")):  # U+0085/2028/2029: only escaped ("\N") do they survive
            return self.represent_scalar("tag:yaml.org,2002:str", data, style='"')
        return super().represent_str(data)


_Dumper.add_representer(str, _Dumper.represent_str)


def _resolver(tag: str, pattern: str, first: str) -> None:
    _Loader.add_implicit_resolver(tag, re.compile(pattern, re.X), list(first))
    _Dumper.add_implicit_resolver(tag, re.compile(pattern, re.X), list(first))


def dump(data: Any) -> str:
    """`data` (plain data) as YAML text that `load` reads back as the same data; Unicode as is,
    one line per value, flow style for lists and mappings of scalars."""
    text: str = yaml.dump(
        data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100_000, default_flow_style=None
    )
    return text


_resolver("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF")
_resolver("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""])  # type: ignore[arg-type]
_resolver("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789")
_resolver(
    "tag:yaml.org,2002:float",
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
    "-+0123456789.",
)


def _text_line(yaml_line: int, text_lines: list[int] | None) -> int:
    """YAML's 0-based line → the text's 1-based line."""
    return (text_lines[yaml_line] if text_lines and yaml_line < len(text_lines) else yaml_line) + 1


def _construct_int(loader: Any, node: Node) -> int:
    text = loader.construct_scalar(node)
    try:
        return int(text, 0) if text[:2] in ("0x", "0o") else int(text)
    except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
        raise _Refused(Said.of(N_("this number is too long")), node.start_mark) from None


def _construct_map(loader: Any, node: MappingNode) -> Any:
    data = LineDict()
    data.line = loader.line(node.start_mark)
    yield data
    for key_node, value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            raise _Refused(Said.of(N_("merge keys (<<) are not allowed")), key_node.start_mark)
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool) and key is not None:
            raise _Refused(Said.of(N_("a key must be a plain value")), key_node.start_mark)
        if key in data:
            raise _Refused(Said.of(N_("duplicate key {key}"), key=repr(key)), key_node.start_mark)
        data[key] = loader.construct_object(value_node, deep=True)
        data.lines[key] = loader.line(key_node.start_mark)
        if value_node.end_mark.line != key_node.start_mark.line:  # a block scalar, a multi-line value
            data.value_lines[key] = _value_lines(loader, value_node)


def _value_lines(loader: Any, node: Node) -> tuple[int, int]:
    first, last = loader.line(node.start_mark), loader.line(node.end_mark)
    if getattr(node, "style", None) in ("|", ">"):  # a block scalar's text starts below its indicator
        first, last = first + 1, (last - 1 if node.end_mark.column == 0 else last)
    return first, max(first, last)


def _construct_seq(loader: Any, node: SequenceNode) -> Any:
    data = LineList()
    data.line = loader.line(node.start_mark)
    yield data
    for item in node.value:
        data.append(loader.construct_object(item, deep=True))
        data.lines.append(loader.line(item.start_mark))


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)
for _unsafe in (
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:binary",
    "tag:yaml.org,2002:set",
    "tag:yaml.org,2002:omap",
    "tag:yaml.org,2002:pairs",
):
    _Loader.yaml_constructors.pop(_unsafe, None)


def load(text: str, first_line: int = 1) -> Any:
    """Parse one YAML document; raise YamlError with a 1-based line (offset by first_line - 1)."""
    text_lines = None
    if "\x85" in text or "\u2028" in text or "\u2029" in text:
        text_lines = list(accumulate((b == "\n" for b in _BREAKS.findall(text)), initial=0))
    loader = _Loader(text)
    loader.text_lines = text_lines
    try:
        if sum(map(text.count, _NESTING)) >= MAX_DEPTH:
            _check_depth(text, text_lines, first_line)  # libyaml's composer recurses in C
        return loader.get_single_data()
    except ConstructorError as exc:  # this project's own refusals, and unknown tags
        mark: Any = exc.problem_mark or exc.context_mark
        problem = Said.of(_TAG_NOT_ALLOWED)
        if isinstance(exc, _Refused):
            problem = exc.said
        elif exc.problem and "could not determine a constructor" not in exc.problem:
            problem = Said.of(N_("this is not valid YAML ({why})"), why=exc.problem)
        if (
            problem.msgid == "aliases (*name) are not allowed here"
        ):  # the mark is the anchor's; point at the alias itself
            aliases = (e.start_mark for e in yaml.parse(text, Loader=_Loader) if isinstance(e, yaml.AliasEvent))
            mark = next(aliases, mark)
        raise YamlError(problem, _mark_line(mark, text, text_lines, first_line)) from None
    except yaml.MarkedYAMLError as exc:  # the text is not YAML: say why in a writer's words where we can
        mark = exc.problem_mark or exc.context_mark
        yaml_line, ours = _explain(text, mark.line if mark else 0)
        if ours is None:
            raise YamlError(
                Said.of(N_("this is not valid YAML ({why})"), why=exc.problem or exc.__class__.__name__),
                _mark_line(mark, text, text_lines, first_line),
            ) from None
        raise YamlError(ours, _line(yaml_line, text, text_lines, first_line)) from None
    except yaml.YAMLError:
        raise YamlError(Said.of(N_("this is not valid YAML")), first_line) from None
    except RecursionError:
        raise YamlError(Said.of(N_("nested too deeply")), first_line) from None
    finally:
        loader.dispose()


def _mark_line(mark: Any, text: str, text_lines: list[int] | None, first_line: int) -> int:
    return _line(mark.line, text, text_lines, first_line) if mark else first_line


def _line(yaml_line: int, text: str, text_lines: list[int] | None, first_line: int) -> int:
    line = _text_line(yaml_line, text_lines) + first_line - 1
    return min(line, first_line + text.count("\n"))  # at the end of the text: its last line


def _explain(text: str, yaml_line: int) -> tuple[int, Said | None]:
    """The two mistakes people make most, found in the text itself: (YAML's 0-based line, message)."""
    lines = _BREAKS.split(text)
    for candidate in (yaml_line, yaml_line - 1):  # a tab is reported on its line or on the next
        if 0 <= candidate < len(lines):
            line = lines[candidate]
            if "\t" in line[: len(line) - len(line.lstrip(" \t"))]:
                return candidate, Said.of(N_("tabs cannot indent YAML; use spaces"))
    match = _COLON_IN_VALUE.match(lines[yaml_line]) if 0 <= yaml_line < len(lines) else None
    if match:
        key = match.group(1).strip()
        return yaml_line, Said.of(
            N_("put the value of {key} in quotes: the ': ' inside it reads as a new key"), key=repr(key)
        )
    return yaml_line, None


def _check_depth(text: str, text_lines: list[int] | None, first_line: int) -> None:
    # PyYAML's pure-Python parser keeps its own stack (no recursion, no depth limit of its own), so
    # this project's limit answers first, in its own words, whichever libyaml pip installed.
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    mark: Any = event.start_mark
                    line = _text_line(mark.line, text_lines) + first_line - 1
                    raise YamlError(Said.of(N_("nested more than {n} levels deep"), n=MAX_DEPTH), line)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return  # not YAML at all: the real load reports where
