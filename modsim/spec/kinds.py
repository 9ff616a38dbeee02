"""Discriminated unions built from the registries: a spec field typed `KindOf("cells", CellSpec)` accepts
every registered cell spec (built-ins and plugins), selected by its `kind`, and its JSON Schema lists them."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

from .. import registry


class _RegisteredKinds:
    """Pydantic hook: the tagged union of every spec class registered in one family."""

    def __init__(self, family: str):
        self.family = family

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        kinds = registry.FAMILIES[self.family].current()
        choices = {name: handler.generate_schema(kind.spec_class()) for name, kind in kinds.items()}
        return core_schema.tagged_union_schema(choices, discriminator="kind")

    def members(self) -> dict[str, Any]:
        """Registered spec classes by kind name."""
        return {name: kind.spec_class() for name, kind in registry.FAMILIES[self.family].current().items()}


class _RegisteredNames:
    """Pydantic hook: a string that must be a registered name of one family (a `Literal` of the names)."""

    def __init__(self, family: str):
        self.family = family

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        names = [n for n in registry.FAMILIES[self.family].current()]
        return core_schema.literal_schema(names)


def KindOf(family: str, base: type) -> Any:
    """The annotation of a field holding one registered `family` spec (a subclass of `base`)."""
    return Annotated[base, _RegisteredKinds(family)]


def NameOf(family: str) -> Any:
    """The annotation of a field holding the name of a registered `family` entry."""
    return Annotated[str, _RegisteredNames(family)]


def registered_union(annotation: Any) -> _RegisteredKinds | None:
    """The registry hook of an annotation built by `KindOf`, if it is one (error reporting walks the models)."""
    for meta in getattr(annotation, "__metadata__", ()):
        if isinstance(meta, _RegisteredKinds):
            return meta
    return None
