"""Shared configuration for every spec model: strict, frozen, documented."""

from pydantic import BaseModel, ConfigDict


class SpecModel(BaseModel):
    """Base of all spec sections.

    Unknown keys are rejected, instances are immutable, and the docstring written under each
    field becomes its JSON Schema description.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
        populate_by_name=True,
    )
