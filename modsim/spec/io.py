"""YAML -> Spec. Safe loading, `--set` overrides, and errors that name field, file:line and expectation."""

from __future__ import annotations

import copy
import difflib
import os
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from .. import registry
from .analysis import Analysis
from .experiment import Spec
from .kinds import registered_union

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a spec: where it is and what was expected."""

    field: str
    """Dotted field path, e.g. `network.cell.units` or `constraints[0].weight`."""
    source: str
    """Where the value came from: `file:line`, or `--set path=value`."""
    message: str
    """What is wrong and what was expected."""

    def __str__(self) -> str:
        return f"{self.source}: {self.field or '<spec>'}: {self.message}"


class SpecError(Exception):
    """A spec could not be loaded or validated; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML loader that also rejects duplicate mapping keys."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` merges a mapping; its keys may be overridden
            continue
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first on line {seen[key]})", key_node.start_mark)
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


def _refuse_binary(loader: _StrictLoader, node: yaml.Node) -> None:
    raise yaml.constructor.ConstructorError(None, None, "!!binary values are not allowed in specs (a tag)",
                                            node.start_mark)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_StrictLoader.add_constructor("tag:yaml.org,2002:binary", _refuse_binary)

MAX_SPEC_BYTES = 1 << 20
"""A spec (or plan) file larger than this is refused before it is parsed."""
MAX_NODES = 100_000
"""A document whose aliases expand to more nodes than this is refused (an alias bomb) before any walk."""
MAX_DEPTH = 64
"""Deeper nesting than this is refused."""
# YAML 1.2 booleans: only true/false (so keys like `on`, `no`, `y` stay strings).
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                    list("tTfF"))


def format_field(loc: Loc) -> str:
    """Render a location tuple as `a.b[0].c`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _Locator:
    """Maps field paths of the loaded document to `file:line` (or to the `--set` that set them).

    A document that is one section of a larger one (an analysis plan is a spec's `analysis`) is walked at
    `prefix`; paths outside it are located at `elsewhere`."""

    def __init__(self, root: yaml.Node | None, filename: str, prefix: Loc = (), elsewhere: str | None = None):
        self.filename = filename
        self.prefix = prefix
        self.elsewhere = elsewhere
        self.lines: dict[Loc, int] = {}
        self.overridden: dict[Loc, str] = {}
        if root is not None:
            self._walk(root, prefix)

    def with_sources(self, sources: dict[Loc, str]) -> "_Locator":
        """A locator that also says `sources[loc]` for the fields at and under each `loc` (values set after
        loading, e.g. a sweep run's swept values); this one is left as it was."""
        out = copy.copy(self)
        out.overridden = {**self.overridden, **sources}
        return out

    def under(self, prefix: Loc, elsewhere: str) -> "_Locator":
        """This document's lines as the section at `prefix` of a larger one; other paths are at `elsewhere`."""
        out = _Locator(None, self.filename, prefix, elsewhere)
        out.lines = {prefix + loc: line for loc, line in self.lines.items()}
        out.overridden = {prefix + loc: source for loc, source in self.overridden.items()}
        return out

    def _walk(self, node: yaml.Node, loc: Loc) -> None:
        self.lines.setdefault(loc, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = key_node.value
                self.lines[loc + (key,)] = key_node.start_mark.line + 1
                self._walk(value_node, loc + (key,))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._walk(item, loc + (i,))

    def resolve(self, loc: Loc, data: Any) -> Loc:
        """Drop the union tags pydantic inserts (e.g. `gru` in network.cell.gru.units)."""
        kept: list[str | int] = []
        cur = data
        for part in loc:
            if isinstance(cur, dict) and part not in cur and cur.get("kind") == part:
                continue  # discriminated-union tag
            if isinstance(cur, dict) and part in cur:
                kept.append(part)
                cur = cur[part]
            elif isinstance(cur, list) and isinstance(part, int) and part < len(cur):
                kept.append(part)
                cur = cur[part]
            elif isinstance(cur, dict) and isinstance(part, str) and not _is_tag(part):
                kept.append(part)  # a missing or unknown key: still the right name
                cur = None
            elif cur is None:
                break
        return tuple(kept)

    def source(self, loc: Loc) -> str:
        """Where the value at `loc` came from: the `--set` that set it or its nearest line in the file."""
        if self.elsewhere is not None and loc[:len(self.prefix)] != self.prefix:
            return self.elsewhere
        for i in range(len(loc), -1, -1):
            if loc[:i] in self.overridden:
                return self.overridden[loc[:i]]
        for i in range(len(loc), -1, -1):
            if loc[:i] in self.lines:
                return f"{self.filename}:{self.lines[loc[:i]]}"
        return f"{self.filename}:1" if self.lines else self.filename  # no lines: a spec built in Python


def _is_tag(part: str) -> bool:
    return bool(re.fullmatch(r"[a-z_]+\[.*\]|int|float|str|bool|list|dict|tuple\[.*\]|function-.*|"
                             r"literal\[.*\]|none|constrained-.*", part))


def _model_at(loc: Loc, data: Any, root: type[BaseModel] = Spec) -> type[BaseModel] | None:
    """The spec model class that owns the mapping at `loc` (for listing allowed keys)."""
    ann: Any = root
    cur = data
    for part in loc:
        model = _pick_model(ann, cur)
        if model is not None:
            field = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
            if field is None:
                return None
            ann = field.annotation
            if field.metadata:  # pydantic keeps an Annotated field's extras apart (a registry union among them)
                ann = typing.Annotated[(ann, *field.metadata)]
        else:
            ann = _unwrap_container(ann, part)
            if ann is None:
                return None
        cur = cur.get(part) if isinstance(cur, dict) else (cur[part] if isinstance(cur, list)
                                                              and isinstance(part, int) and part < len(cur) else None)
    return _pick_model(ann, cur)


def _pick_model(ann: Any, value: Any) -> type[BaseModel] | None:
    union = registered_union(ann)
    if union is not None:
        members = union.members()
        return members.get(value.get("kind")) if isinstance(value, dict) else None
    ann = _strip_annotated(ann)
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    if typing.get_origin(ann) in (typing.Union, types.UnionType):
        models = [a for a in map(_strip_annotated, typing.get_args(ann))
                  if isinstance(a, type) and issubclass(a, BaseModel)]
        if isinstance(value, dict) and "kind" in value:
            for m in models:
                kind = m.model_fields.get("kind")
                if kind is not None and value["kind"] in typing.get_args(kind.annotation):
                    return m
        return models[0] if len(models) == 1 else None
    return None


def _strip_annotated(ann: Any) -> Any:
    while typing.get_origin(ann) is typing.Annotated:
        ann = typing.get_args(ann)[0]
    return ann


def _unwrap_container(ann: Any, part: str | int) -> Any:
    if registered_union(ann) is not None:
        return None
    ann = _strip_annotated(ann)
    origin = typing.get_origin(ann)
    if origin in (list, tuple) and isinstance(part, int):
        return typing.get_args(ann)[0]
    if origin is dict:
        return typing.get_args(ann)[1]
    return None


def _problem_from_error(err: dict, data: Any, locator: _Locator, root: type[BaseModel] = Spec) -> Problem:
    loc = locator.resolve(tuple(err["loc"]), data)
    msg = err["msg"]
    kind = err["type"]
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1], data, root)
        allowed = sorted((f.alias or n) for n, f in model.model_fields.items()) if model else []
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        msg = f"unknown key {loc[-1]!r}{hint}; expected one of: {', '.join(allowed)}" if allowed \
            else f"unknown key {loc[-1]!r}"
    elif kind == "missing":
        msg = "required field is missing"
    elif kind == "union_tag_invalid":
        msg = f"unknown kind {err['ctx'].get('tag')!r}; expected one of {err['ctx'].get('expected_tags')}"
    elif kind == "value_error":
        msg = msg.removeprefix("Value error, ")
        refined = _refine(loc, msg, data)
        if refined != loc:
            msg = re.sub(r"^[\w.\[\]]+:\s*", "", msg)
        loc = refined
    else:
        if "input" in err and not isinstance(err["input"], (dict, list)):
            msg = f"{msg} (got {err['input']!r})"
    return Problem(format_field(loc), locator.source(loc), msg)


def _refine(loc: Loc, msg: str, data: Any) -> Loc:
    """A model-level rule names its field first (`groups: ...`, `constraints[0].between: ...`);
    point at that field's line."""
    match = re.match(r"([A-Za-z_][\w]*(?:\[\d+\]|\.[A-Za-z_]\w*)*)", msg)
    if not match:
        return loc
    cur = data
    for part in loc:
        try:
            cur = cur[part]
        except (KeyError, IndexError, TypeError):
            return loc
    refined = list(loc)
    for m in _SEGMENT.finditer(match.group(1)):
        key: str | int = m.group(1) if m.group(1) is not None else int(m.group(2))
        if (isinstance(cur, dict) and key in cur) or (isinstance(cur, list) and isinstance(key, int)
                                                      and key < len(cur)):
            refined.append(key)
            cur = cur[key]
        else:
            break
    return tuple(refined)


def _expanded_size(root: yaml.Node, filename: str) -> None:
    """Refuse documents whose aliases expand past MAX_NODES or that nest deeper than MAX_DEPTH. Shared
    nodes are counted once per reference (memoised), so a bomb is measured without being expanded."""
    sizes: dict[int, int] = {}
    depths: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        children = ([v for pair in node.value for v in pair] if isinstance(node, yaml.MappingNode)
                    else list(node.value) if isinstance(node, yaml.SequenceNode) else [])
        if not done:
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
            if len(stack) > 4 * MAX_NODES:
                break
            continue
        sizes[id(node)] = 1 + sum(sizes.get(id(c), 1) for c in children)
        depths[id(node)] = 1 + max((depths.get(id(c), 0) for c in children), default=0)
        if sizes[id(node)] > MAX_NODES:
            line = node.start_mark.line + 1
            raise SpecError([Problem("", f"{filename}:{line}", f"YAML aliases expand this document past {MAX_NODES} "
                                     "values (an alias bomb?); write the values out instead")])
        if depths[id(node)] > MAX_DEPTH:
            raise SpecError([Problem("", f"{filename}:{node.start_mark.line + 1}",
                                     f"the document nests deeper than {MAX_DEPTH} levels")])
    else:
        return
    raise SpecError([Problem("", f"{filename}:1", f"the document has more than {MAX_NODES} values")])


_OPEN = (yaml.BlockSequenceStartToken, yaml.BlockMappingStartToken, yaml.FlowSequenceStartToken,
         yaml.FlowMappingStartToken)
_CLOSE = (yaml.BlockEndToken, yaml.FlowSequenceEndToken, yaml.FlowMappingEndToken)


def _check_depth(text: str, filename: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH from the token stream (no recursion, nothing built)."""
    depth = 0
    for token in yaml.scan(text, Loader=_StrictLoader):
        if isinstance(token, _OPEN):
            depth += 1
            if depth > MAX_DEPTH:
                raise SpecError([Problem("", f"{filename}:{token.start_mark.line + 1}",
                                         f"the document nests deeper than {MAX_DEPTH} levels")])
        elif isinstance(token, _CLOSE):
            depth -= 1


def _parse_yaml(text: str, filename: str) -> tuple[Any, yaml.Node | None]:
    if len(text) > MAX_SPEC_BYTES:
        raise SpecError([Problem("", f"{filename}:1", f"the file has {len(text)} characters; a spec or plan has at "
                                 f"most {MAX_SPEC_BYTES}")])
    try:
        _check_depth(text, filename)
        loader = _StrictLoader(text)
        try:
            node = loader.get_single_node()
            if node is not None:
                _expanded_size(node, filename)
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except RecursionError:
        raise SpecError([Problem("", f"{filename}:1", f"the document nests deeper than {MAX_DEPTH} levels")]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = exc.problem or str(exc)
        if isinstance(exc, yaml.constructor.ConstructorError) and "tag" in problem:
            problem = f"{problem}; YAML tags are not allowed in specs (plain mappings, lists and scalars only)"
        raise SpecError([Problem("", f"{filename}:{line}", f"invalid YAML: {problem}")]) from None
    except yaml.YAMLError as exc:
        raise SpecError([Problem("", f"{filename}:1", f"invalid YAML: {exc}")]) from None
    return data, node


_SEGMENT = re.compile(r"([A-Za-z_][\w-]*)|\[(\d+)\]")


def parse_override(text: str) -> tuple[Loc, Any]:
    """Split `a.b[0].c=value` into a location and a YAML-parsed value."""
    if "=" not in text:
        raise SpecError([Problem("", f"--set {text}", "expected PATH=VALUE, e.g. training.steps=10")])
    path, raw = text.split("=", 1)
    loc: list[str | int] = []
    for part in path.strip().split("."):
        if not part:
            raise SpecError([Problem(path, f"--set {text}", "empty path segment")])
        for m in _SEGMENT.finditer(part):
            loc.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        if "".join(m.group(0) for m in _SEGMENT.finditer(part)) != part:
            raise SpecError([Problem(path, f"--set {text}", "expected a path like a.b[0].c")])
    value, _ = _parse_yaml(raw, f"--set {text}")
    return tuple(loc), value


def assign(data: Any, loc: Loc, value: Any, source: str) -> Any:
    """`data` with the value at `loc` set to `value` as `--set` sets it: a missing (or null) mapping or list on
    the way is created, an index one past a list's end appends. Only the containers on the path are copied;
    `data` itself is left as it was and everything off the path is shared with it. A path that does not fit
    the data raises SpecError at `source`."""
    return _assign(data, loc, 0, value, source)


def _assign(cur: Any, loc: Loc, depth: int, value: Any, source: str) -> Any:
    part, last = loc[depth], depth == len(loc) - 1
    if isinstance(part, int):
        if not isinstance(cur, list) or part > len(cur) or (part == len(cur) and not last):
            raise SpecError([Problem(format_field(loc[:depth + 1]), source, "index out of range for this list")])
        out = list(cur)
        if part == len(out):
            out.append(value)
        else:
            out[part] = value if last else _assign(out[part], loc, depth + 1, value, source)
        return out
    if not isinstance(cur, dict):
        raise SpecError([Problem(format_field(loc[:depth + 1]), source,
                                 "parent is not a mapping" if last else "not a mapping")])
    out = dict(cur)
    if last:
        out[part] = value
    else:
        child = out.get(part)
        if child is None:
            child = [] if isinstance(loc[depth + 1], int) else {}
        out[part] = _assign(child, loc, depth + 1, value, source)
    return out


def apply_overrides(data: dict, overrides: list[str], locator: _Locator | None = None) -> dict:
    """Apply `PATH=VALUE` overrides to raw spec data (a deep copy is returned)."""
    data = copy.deepcopy(data)
    for text in overrides:
        loc, value = parse_override(text)
        data = assign(data, loc, value, f"--set {text}")
        if locator is not None:
            locator.overridden[loc] = f"--set {text}"
    return data


def resolve_data_paths(data: Any, folder: str | Path | None, from_command_line=lambda loc: False) -> Any:
    """`data` (a spec's raw data) with every relative data path of its task (`TaskSpec.data_paths`) made
    absolute: against `folder` (the spec file's folder) when it came from the file, against the working
    directory when `from_command_line(loc)` says a `--set` gave it or `folder` is None (a spec built in
    Python). A leading `~` is expanded; absolute paths and everything else are kept; `data` itself is left as it
    was (the task section is copied when a path changes). An unknown task kind is left to validation."""
    task = data.get("task") if isinstance(data, dict) else None
    if not isinstance(task, dict) or not isinstance(task.get("kind"), str):
        return data
    try:
        fields = registry.tasks.get(task["kind"]).spec_class().data_paths
    except (KeyError, AttributeError, ImportError):
        return data
    resolved = dict(task)
    for name in fields:
        value = task.get(name)
        if not isinstance(value, str) or not value:
            continue
        value = os.path.expanduser(value)
        if not os.path.isabs(value):
            base = os.getcwd() if folder is None or from_command_line(("task", name)) else os.fspath(folder)
            value = os.path.normpath(os.path.join(os.path.abspath(base), value))
        resolved[name] = value
    return data if resolved == task else {**data, "task": resolved}


def _from_command_line(locator: "_Locator"):
    return lambda loc: any(loc[:i] in locator.overridden for i in range(len(loc), -1, -1))


@dataclass(frozen=True)
class LocatedSpec:
    """A validated spec with the data it was validated from and where each of its fields came from, for
    validating variants of it without reading the file again (`modsim.spec.variants`)."""

    spec: Spec
    """The validated spec."""
    data: dict
    """The parsed document with the `--set` overrides applied (never modified)."""
    locator: _Locator
    """`file:line` (or `--set`) of every field of `data`."""
    folder: str | None = None
    """The absolute folder of the spec file (None: a spec not read from a file), which a variant's relative
    data paths are resolved against (`resolve_data_paths`)."""


_SPEC_SHAPE = ("a spec must be a YAML mapping with keys name, network, task, training "
               "(and optionally constraints, analysis)")


def parse_spec_text(text: str, filename: str = "<spec>", overrides: list[str] | None = None) -> Spec:
    """Validate YAML text as a Spec; raise SpecError listing every problem with its line."""
    return _validate_text(text, filename, Spec, overrides, _SPEC_SHAPE)[0]


def _validate_text(text: str, filename: str, model: type[BaseModel], overrides: list[str] | None,
                   shape_hint: str, folder: str | None = None) -> tuple[Any, dict, _Locator]:
    """The validated model, the data it was validated from and its locator. A spec's relative data paths are
    resolved (`resolve_data_paths`) against `folder` (its file's folder; None: the working directory), those
    set by `overrides` against the working directory."""
    registry.load_plugins()  # installed plugins' kinds are valid in every spec
    data, node = _parse_yaml(text, filename)
    locator = _Locator(node, filename)
    if not isinstance(data, dict):
        raise SpecError([Problem("", f"{filename}:1", shape_hint)])
    if overrides:
        data = apply_overrides(data, overrides, locator)
    if model is Spec:
        data = resolve_data_paths(data, folder, _from_command_line(locator))
    try:
        return model.model_validate(data), data, locator
    except ValidationError as exc:
        raise SpecError(problems_of(exc, data, locator, model)) from None


def problems_of(exc: ValidationError, data: Any, locator: _Locator, model: type[BaseModel] = Spec) -> list[Problem]:
    """Every error of a failed validation of `data` as `model`, each with its field and `locator`'s source."""
    return [_problem_from_error(e, data, locator, model) for e in exc.errors(include_url=False)]


def spec_from_dict(data: dict, overrides: list[str] | None = None, source: str = "<python>") -> Spec:
    """Validate a spec built in Python (a dict, e.g. from a notebook) with the same friendly errors as a
    file: SpecError naming each field, `source` instead of a line, "did you mean" for unknown keys. Relative
    data paths of the task are resolved against the working directory (`resolve_data_paths`)."""
    registry.load_plugins()
    locator = _Locator(None, source)
    if not isinstance(data, dict):
        raise SpecError([Problem("", source, "a spec is a mapping with keys name, network, task, training")])
    if overrides:
        data = apply_overrides(data, overrides, locator)
    data = resolve_data_paths(data, None)  # relative data paths: to the working directory
    try:
        return Spec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(problems_of(exc, data, locator)) from None


def load_analysis_plan(path: str | Path, run_spec: dict | None = None, run: str = "") -> Analysis:
    """Load an analysis plan file (the body of a spec's `analysis` section) with located errors.

    With `run_spec`, the stored spec (resolved JSON) of the run `run` the plan is for, the plan is also
    checked against that run as `modsim analyze` combines them (`spec_with_plan`): a metric the run's task
    cannot give, `d_in` without input sets, dynamics on a cell that is no CTRNN, a group the run's network
    lacks are SpecErrors at the plan's `file:line`."""
    text = _read_text(Path(path), "plan")
    plan, _, locator = _validate_text(text, str(path), Analysis, None, "an analysis plan must be a YAML mapping "
                                      "(metrics, communities, induced_q, ...)")
    if run_spec is not None:
        spec_with_plan(run_spec, plan, run, locator)
    return plan


def analysis_plan_from_dict(data: Any, run_spec: dict | None = None, run: str = "",
                            source: str = "<python>") -> Analysis:
    """Validate an analysis plan built in Python (a dict: the body of a spec's `analysis` section, as a plan file
    holds it) with the same errors as a plan file: SpecError naming each field at `source`, "did you mean" for
    unknown keys; with `run_spec` (the stored spec of the run `run`), also checked against that run as
    `load_analysis_plan` checks a file."""
    registry.load_plugins()
    locator = _Locator(None, source)
    if not isinstance(data, dict):
        raise SpecError([Problem("", source, "an analysis plan is a mapping (metrics, communities, induced_q, ...), "
                                             f"not {type(data).__name__}")])
    try:
        plan = Analysis.model_validate(data)
    except ValidationError as exc:
        raise SpecError(problems_of(exc, data, locator, Analysis)) from None
    if run_spec is not None:
        spec_with_plan(run_spec, plan, run, locator)
    return plan


def spec_with_plan(spec_json: dict, plan: Analysis | None = None, run: str = "",
                   plan_lines: _Locator | None = None) -> Spec:
    """The spec a run was trained with (`Spec.from_stored` of its stored JSON), its analysis section replaced
    by `plan` and checked against the rest.

    A plan that does not fit the run raises SpecError naming the plan's field as a plan file names it
    (`metrics`, `groups`, `dynamics`), located by `plan_lines` (the plan file's locator, from
    `load_analysis_plan`) or at `<plan>`, followed by `(run RUN)`; a stored spec that does not validate
    raises SpecError at `RUN (stored spec)`."""
    registry.load_plugins()
    data = dict(spec_json)
    if plan is not None:
        data["analysis"] = plan.model_dump(mode="json", by_alias=True)
    try:
        return Spec.from_stored(data)
    except ValidationError as exc:
        stored = f"{run or '<run>'} (stored spec)"
        if plan is None:
            raise SpecError(problems_of(exc, data, _Locator(None, stored))) from None
        locator = (plan_lines or _Locator(None, "<plan>")).under(("analysis",), stored)
        problems = []
        for p in problems_of(exc, data, locator):
            if p.source != stored:  # the plan's: its fields as the plan file names them
                field = p.field.removeprefix("analysis").lstrip(".")
                message = p.message.removeprefix("analysis.")
                if field and message.startswith(f"{field} "):  # "groups names 'g7', ..."
                    message = message[len(field) + 1:]
                p = Problem(field, f"{p.source} (run {run})" if run else p.source, message)
            problems.append(p)
        raise SpecError(problems) from None


def load_spec(path: str | Path, overrides: list[str] | None = None) -> Spec:
    """Load and validate a YAML spec file, applying `PATH=VALUE` overrides. The task's relative data paths are
    made absolute: those written in the file against the file's folder, those set by an override against the
    working directory (`resolve_data_paths`)."""
    return load_located_spec(path, overrides).spec


def load_located_spec(path: str | Path, overrides: list[str] | None = None) -> LocatedSpec:
    """Load and validate a YAML spec file like `load_spec`, keeping the data and the file's lines (the file
    is read once)."""
    path = Path(path)
    folder = os.path.dirname(os.path.abspath(path))
    return LocatedSpec(*_validate_text(_read_text(path, "spec"), str(path), Spec, overrides, _SPEC_SHAPE, folder),
                       folder=folder)


def _read_text(path: Path, what: str) -> str:
    """A spec or plan file's text; SpecError for a missing, unreadable, oversized or non-UTF-8 file. At most
    MAX_SPEC_BYTES + 1 bytes are read whatever the file is (a device such as /dev/zero, a FIFO, a file that
    grows while it is read), and a FIFO without a writer reads as empty instead of waiting for one."""
    try:
        raw = _read_at_most(path, MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise SpecError([Problem("", str(path), f"cannot read {what} file: {exc.strerror or exc}")]) from None
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError([Problem("", f"{path}:1", f"the file has more than {MAX_SPEC_BYTES} bytes; a {what} file "
                                 f"has at most {MAX_SPEC_BYTES} (MAX_SPEC_BYTES)")])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise SpecError([Problem("", f"{path}:{line}", f"{path.name} is not UTF-8 text (byte {exc.start}); save it "
                                 "as UTF-8")]) from None


def _read_at_most(path: Path, limit: int) -> bytes:
    """The first `limit` bytes of `path` (fewer when it ends sooner). Opened without blocking, so a FIFO
    nobody writes to does not wait for a writer; read blocking, so a writer that is slower than us is read."""
    nonblocking = getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, os.O_RDONLY | nonblocking | getattr(os, "O_BINARY", 0))
    try:
        stream = open(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with stream:
        if nonblocking:
            os.set_blocking(fd, True)
        return stream.read(limit)
