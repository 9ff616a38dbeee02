"""Validated variants of one loaded spec (a sweep's runs) without reading, parsing or checking the file again.

A variant sets a few field values of the loaded spec's data, as `--set` would, and is validated as a whole
spec by pydantic. Top-level sections the variant leaves alone are handed to pydantic as the loaded spec's
own validated (frozen) section models, which pydantic does not rebuild (only their `after` rules run
again), so a variant costs the validation of the sections it changes and the spec's cross-section rules
(about 35 us for `specs/wm_leaky_mi.yaml` against 50 us from raw data), and the variants share the
untouched sections instead of each holding a copy (2.8 kB a run instead of 11.7 kB). A variant's problems
name the field and the source the caller gives for each value it set.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError

from .experiment import Spec
from .io import Loc, LocatedSpec, Problem, SpecError, assign, problems_of, resolve_data_paths

Describe = Callable[[Loc, Any], str]
"""Where a variant's value came from, for its problems: `describe(loc, value)`, called only when the variant
is invalid (e.g. `--set training.seed=7`)."""


def validate_variant(located: LocatedSpec, changes: Sequence[tuple[Loc, Any]], describe: Describe) -> Spec:
    """`located`'s spec with each `(loc, value)` of `changes` set in order (as `--set` sets them), validated
    as a whole spec; SpecError naming each problem's field, at `describe(loc, value)` for the set values and
    at the file's line for the others. Equal to loading the file with the changes as `--set` overrides, except
    that a relative data path set by a change (a sweep's value, written in the spec file) is resolved against
    the spec file's folder."""
    data = located.data
    for loc, value in changes:
        try:
            data = assign(data, loc, value, "")
        except SpecError as exc:
            raise SpecError([Problem(p.field, describe(loc, value), p.message) for p in exc.problems]) from None
    data = resolve_data_paths(data, located.folder)  # a swept data path: relative to the spec file's folder
    changed = {loc[0] for loc, _ in changes}
    try:
        if _sections_reusable():
            return Spec.model_validate({key: (value if key in changed or key not in Spec.model_fields
                                              else getattr(located.spec, key)) for key, value in data.items()})
        return Spec.model_validate(data)
    except ValidationError:
        pass
    try:  # the same rules on the raw data, so each problem's field is found in the document
        Spec.model_validate(data)
    except ValidationError as exc:
        locator = located.locator.with_sources({loc: describe(loc, value) for loc, value in changes})
        raise SpecError(problems_of(exc, data, locator)) from None
    raise AssertionError("a spec variant was refused with its sections reused but accepted from its raw data")


@functools.cache
def _sections_reusable() -> bool:
    """Whether a validated section can stand in for its data: true while the spec's own rules all run after
    its sections are built (no `before`/`wrap` model validators, no field validators on the spec itself, no
    aliased top-level keys), so they see the same section models either way."""
    decorators = Spec.__pydantic_decorators__
    return (all(d.info.mode == "after" for d in decorators.model_validators.values())
            and not decorators.field_validators and not decorators.validators
            and all(f.alias is None for f in Spec.model_fields.values()))
