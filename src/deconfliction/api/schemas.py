"""Request bodies as pydantic models: they check shapes and types, then become model records.

Rules about meaning (rings, areas, windows) are the core's (`geometry.check_volume`), so the
CLI and replay apply them too.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
)
from pydantic_core import core_schema

from deconfliction.core import geometry
from deconfliction.core.errors import InvalidGeometry
from deconfliction.core.model import Circle, Outline, Polygon, Volume4D

__all__ = [
    "MESSAGE_SEQ_MAX",
    "SEQ_MAX",
    "CircleIn",
    "MessageIn",
    "OperationIn",
    "PolygonIn",
    "QueryTime",
    "StateIn",
    "Text",
    "Time",
    "TrackBatchIn",
    "TrackIn",
    "VolumeIn",
    "ZoneIn",
    "from_json",
]


SEQ_MAX = 2**63 - 1
"""The largest ledger or event seq either database can hold (a 64-bit integer)."""
MESSAGE_SEQ_MAX = 2**31 - 1
"""The largest message seq (a 32-bit integer on PostgreSQL: one recipient's count)."""


def _no_nul(text: str) -> str:
    # Databases differ on NUL in text (PostgreSQL refuses it): refuse it at the door, named.
    if "\x00" in text:
        raise ValueError("text must not contain NUL characters")
    return text


Text = Annotated[str, AfterValidator(_no_nul)]


def _number(value: Any) -> Any:
    # pydantic would read "3000" or true as a number: a client sending those has a bug that
    # should surface here, not as a volume it did not mean.
    if isinstance(value, bool | str):
        raise ValueError("a JSON number is required")
    return value


# RFC 3339 section 5.6 lets a space stand for the T (as Python's str(datetime) writes it).
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})")


def _time_text(value: Any) -> Any:
    # pydantic alone would also read "1795466234" as epoch seconds and "+0300" as an offset.
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError("a time is an RFC 3339 string with a zone, e.g. 2026-11-23T18:00:00Z")
    return value


def _utc(value: datetime) -> datetime:
    # 0001-01-01T00:00:00+01:00 is a valid RFC 3339 time with no UTC year in Python's range.
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range (years 1 to 9999 in UTC)") from None


Num = Annotated[float, BeforeValidator(_number)]
Fast = Annotated[float, Strict()]
"""A JSON number, checked without calling Python (strict: no strings, no booleans): the
1,000 reports of a batch had 6,000 calls of `_number`."""
Int = Annotated[int, BeforeValidator(_number)]
Time = Annotated[AwareDatetime, BeforeValidator(_time_text), AfterValidator(_utc)]


class _ReportTime:
    """`Time`'s rule checked inside pydantic-core, with no Python call per value: a batch
    holds up to 10,000 reports, and the two validators cost as much as parsing the batch.
    Unlike `Time` the value keeps its offset (intake reads it as epoch seconds), and a
    time outside UTC's calendar is left to intake (`intake.columns` refuses it)."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> core_schema.CoreSchema:
        return core_schema.custom_error_schema(
            core_schema.chain_schema([
                core_schema.str_schema(pattern=f"^(?:{_RFC3339.pattern})$"),
                core_schema.datetime_schema(tz_constraint="aware"),
            ]),
            custom_error_type="rfc3339_time",
            custom_error_message="a time is an RFC 3339 string with a zone, e.g. "
                                 "2026-11-23T18:00:00Z")

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict[str, Any]:
        return {"type": "string", "format": "date-time"}


ReportTime = Annotated[datetime, _ReportTime]


_PLUS_AS_SPACE = re.compile(r"(\d{2}:\d{2}:\d{2}(?:\.\d+)?) (\d{2}:\d{2})")


def _query_time(value: Any) -> Any:
    # An unencoded "+03:00" in a URL arrives as " 03:00" ("+" is a space in a query string);
    # no RFC 3339 time has a space there, so the "+" is what was meant.
    return _PLUS_AS_SPACE.sub(r"\1+\2", value) if isinstance(value, str) else value


QueryTime = Annotated[Time | None, BeforeValidator(_query_time)]
"""A time in a query string (``start=``, as forms and templates send it, never reaches it:
`deconfliction.api.app.EmptyParams` drops an empty parameter before any route)."""


_M = TypeVar("_M", bound=BaseModel)


class _In(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="ignore")


class PolygonIn(_In):
    """A GeoJSON Polygon: exterior ring then holes, positions ``[lon, lat]``."""

    type: Literal["Polygon"]
    coordinates: list[list[list[Num]]] = Field(min_length=1)

    def to_model(self, field: str) -> Polygon:
        rings = []
        for r, ring in enumerate(self.coordinates):
            pts = []
            for k, pos in enumerate(ring):
                if len(pos) not in (2, 3):
                    raise InvalidGeometry(
                        "a position is [lon, lat]", field=f"{field}.coordinates[{r}][{k}]"
                    )
                pts.append((pos[0], pos[1]))
            rings.append(tuple(pts))
        polygon = Polygon(exterior=rings[0], holes=tuple(rings[1:]))
        geometry.check_rings_closed(polygon, field=field)
        return polygon


class CircleIn(_In):
    """A circle: centre ``[lon, lat]`` and radius in metres."""

    type: Literal["Circle"]
    center: list[Num] = Field(min_length=2, max_length=2)
    radius_m: Num

    def to_model(self, field: str) -> Circle:
        return Circle(center=(self.center[0], self.center[1]), radius_m=self.radius_m)


OutlineIn = Annotated[PolygonIn | CircleIn, Field(discriminator="type")]


class VolumeIn(_In):
    """A 4D volume: outline, altitude band in metres AMSL, window ``[start, end)`` in UTC."""

    outline: OutlineIn
    lower_m: Num
    upper_m: Num
    start: Time
    end: Time

    def to_model(self, field: str) -> Volume4D:
        outline: Outline = self.outline.to_model(f"{field}.outline")
        return Volume4D(
            outline=outline,
            lower_m=self.lower_m,
            upper_m=self.upper_m,
            start=self.start,
            end=self.end,
        )


def volumes_to_model(vols: list[VolumeIn]) -> list[Volume4D]:
    """Every volume, naming ``volumes[i]`` in any error."""
    return [v.to_model(f"volumes[{i}]") for i, v in enumerate(vols)]


class OperationIn(_In):
    """An operation: volumes, priority, and details private to the owner."""

    volumes: list[VolumeIn] = Field(min_length=1)
    priority: Int = Field(default=0, ge=-1000, le=1000)
    details: dict[str, Any] = Field(default_factory=dict)


class ZoneIn(_In):
    """A zone the caller owns; ``applies_to`` None means every other party."""

    name: Text = Field(min_length=1, max_length=200)
    kind: Literal["sovereign", "no_fly", "air_defence", "buffer"]
    volumes: list[VolumeIn] = Field(min_length=1)
    applies_to: list[Text] | None = None


class StateIn(_In):
    """A requested operation state."""

    state: Literal["accepted", "activated", "nonconforming", "contingent", "ended"]


class TrackIn(_In):
    """One state vector."""

    aircraft: Text = Field(min_length=1, max_length=64)
    t: ReportTime
    lon: Fast = Field(ge=-180, le=180)
    lat: Fast = Field(ge=-90, le=90)
    alt_m: Fast = Field(ge=-1000, le=30000)
    gs_mps: Fast = Field(ge=0, le=2000)
    track_deg: Fast = Field(ge=-360, le=360)
    vs_mps: Fast = Field(ge=-500, le=500)
    operation: Text | None = None


class TrackBatchIn(_In):
    """A batch of track reports."""

    reports: list[TrackIn] = Field(min_length=1, max_length=10_000)


def from_json(model: type[_M], raw: bytes) -> _M:
    """``raw`` read as ``model`` by pydantic-core in one pass (the JSON parser and the checks
    in Rust), refused as FastAPI refuses a body it parsed itself: `RequestValidationError`
    with each error's place under ``body``."""
    if not raw:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}])
    try:
        return model.model_validate_json(raw)
    except ValidationError as e:
        raise RequestValidationError(
            [{**err, "loc": ("body", *err["loc"])} for err in e.errors(include_url=False)]
        ) from None


class MessageIn(_In):
    """A message to another party."""

    to: Text = Field(min_length=1, max_length=64)
    text: Text = Field(min_length=1, max_length=4096)
    refs: list[Text] = Field(default_factory=list, max_length=100)
