"""One schema per file format the tool reads back, checked at every read.

Nothing read from a file is trusted: each format the tool writes and later reads
(``status.json``, ``eval.json``, a checkpoint's ``last.json``, ``metrics.jsonl`` rows,
``bench.json``, ``results.json``, ``config.json``) is described here once, as a pydantic
model in strict mode (no coercion: ``"5"`` is not 5 and ``true`` is not 1), with bounds on
every count, string and list, and on the depth and size of the free-form parts. Readers call
``check`` (or ``read``) and get back the plain JSON data, unchanged, or an ``UnreadableFile``
whose one line names the file and the field.

What a schema cannot know, each reader checks against the run itself: a config's component
names against the registry (``RunConfig.from_dict``), a checkpoint's tensors against the
networks (``checkpoint.load_module_state``), a status's step against the checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from .files import UnreadableFile, loads_json, read_jsonl, read_text

#: free-form parts (options, protocols, environments, checkpoint state trees) nest at most
#: this deep and hold at most this many values: a walker over them can never recurse or run
#: without bound (a checkpoint of Adam state over a few networks nests about 12 deep)
MAX_DEPTH = 64
MAX_NODES = 5_000_000
MAX_TEXT = 2**20
MAX_COUNT = 2**63 - 1
MAX_LIST = 1_000_000
#: the formats of the files that carry a number (the writers import these)
CHECKPOINT_FORMAT = 3
PLAN_FORMAT = 1


def _bounded(value: Any) -> Any:
    """``value`` if it nests at most ``MAX_DEPTH`` deep with at most ``MAX_NODES`` values
    (walked with a stack, not recursion)."""
    stack, nodes = [(value, 1)], 0
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if depth > MAX_DEPTH:
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
        if nodes > MAX_NODES:
            raise ValueError(f"more than {MAX_NODES:,} values")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return value


#: any JSON value (``check`` bounds the depth and size of the whole file first)
Json = JsonValue
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT)]
Line = Annotated[str, StringConstraints(max_length=10_000)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=1_000)]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Number = int | float | None
Options = Annotated[dict[str, Json], Field(max_length=10_000)]


class _Schema(BaseModel):
    """A file's top-level object: known fields only, nothing coerced."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Status(_Schema):
    """``RUN/status.json``: how far the run got, as last written (the checkpoint decides)."""

    status: Literal["running", "completed", "diverged", "failed"]
    step: Count
    steps: Annotated[int, Field(ge=1, le=MAX_COUNT)]
    #: the seeds this run last trained together with, where it trained seed-batched
    trained_with: Annotated[list[Count], Field(min_length=1, max_length=10_000)] | None = None
    diverged_at: Count | None = None
    reason: Line | None = None
    error: Text | None = None
    traceback: Text | None = None
    nonfinite: Annotated[list[Line], Field(max_length=10_000)] | None = None


class EvalRun(_Schema):
    dir: Text
    step: Count | None
    dataset: Name
    dataset_options: Options
    variant: Name | None
    seed: int


class Evaluation(_Schema):
    """``RUN/eval.json`` (and a reference row's ``eval.json``): metric values and protocol."""

    run: EvalRun | None = None
    #: a reference row's own record instead of ``run``
    reference: Name | None = None
    dataset: Name | None = None
    seed: int | None = None
    metrics: Annotated[dict[str, Options], Field(max_length=1_000)]
    protocol: Options
    nonfinite: Annotated[list[Line], Field(max_length=10_000)] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Evaluation:
        if (self.run is None) == (self.reference is None):
            raise ValueError("an evaluation names either its run or its reference")
        return self


class MetricsRow(_Schema):
    """One row of ``RUN/metrics.jsonl``: a log window's means (non-finite ones written as
    null and named in ``nonfinite``), its learning rates and timings, or an evaluation."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True)

    step: Annotated[int, Field(ge=1, le=MAX_COUNT)]
    eval: Annotated[dict[str, Options], Field(max_length=1_000)] | None = None
    nonfinite: Annotated[list[Line], Field(max_length=10_000)] | None = None

    @model_validator(mode="after")
    def _numbers(self) -> MetricsRow:
        extra = self.__pydantic_extra__ or {}
        if len(extra) > 10_000:
            raise ValueError("more than 10,000 columns")
        for key, value in extra.items():
            if len(key) > 1_000 or not (value is None or type(value) in (int, float)):
                raise ValueError(f"column {key[:100]!r} is not a number or null")
        return self


class Manifest(_Schema):
    """A checkpoint's ``last.json``: its step, its tensor file and the state tree."""

    format: Literal[CHECKPOINT_FORMAT]
    step: Count
    tensors: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,200}\.safetensors$")]
    tensors_sha256: Sha256
    state_sha256: Sha256
    state: Json


class SuiteRecord(_Schema):
    name: Name
    origin: Text
    source: Text


class Look(_Schema):
    """Seeds added after a report could have been looked at (``seeds_added``)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, populate_by_name=True)

    from_: Count = Field(alias="from")
    to: Count


class Plan(_Schema):
    """``OUT/bench.json``: what a benchmark was asked to run, and on what."""

    format: Literal[PLAN_FORMAT]
    suite: SuiteRecord
    options: Options
    threads: Annotated[int, Field(ge=1, le=1024)]
    environment: Options
    runs: Annotated[list[Annotated[dict[str, Json], Field(max_length=1_000)]], Field(max_length=MAX_LIST)]
    seeds_added: Annotated[list[Look], Field(max_length=10_000)] | None = None


class ResultRun(BaseModel):
    """One run's record in ``results.json`` (``RunSpec.from_json`` checks its spec)."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True)

    status: Name
    step: Count | None
    final_losses: dict[str, Json] | None
    metrics: dict[str, Json] | None


class Results(BaseModel):
    """``results.json``: the plan's record, every run, and the summaries a report draws."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True)

    suite: SuiteRecord
    options: Options
    threads: Annotated[int, Field(ge=1, le=1024)]
    environment: Options
    runs: Annotated[list[ResultRun], Field(max_length=MAX_LIST)]
    datasets: Annotated[dict[str, Json], Field(max_length=10_000)]
    content_hash: Name
    seeds_added: Annotated[list[Look], Field(max_length=10_000)] | None = None



#: ``config.json``: an object of fields; ``RunConfig.from_dict`` checks them against the
#: registry (names, options, ranges)
Config = TypeAdapter(Annotated[dict[str, Json], Field(max_length=1_000)])

#: every format, by the file that holds it, with the words a refusal names it by
SCHEMAS: dict[str, tuple[type[BaseModel] | TypeAdapter, str]] = {
    "status.json": (Status, "run status"), "eval.json": (Evaluation, "evaluation"),
    "metrics.jsonl": (MetricsRow, "log row"), "last.json": (Manifest, "checkpoint manifest"),
    "bench.json": (Plan, f"benchmark plan of format {PLAN_FORMAT}"),
    "results.json": (Results, "results file"), "config.json": (Config, "run config"),
}
_TITLES = {id(schema): title for schema, title in SCHEMAS.values()}


def check(data: Any, schema: type[BaseModel] | TypeAdapter, where: str) -> Any:
    """``data`` unchanged if it fits ``schema``, else an ``UnreadableFile`` naming ``where``
    and the first field that does not fit."""
    try:
        _bounded(data)
        if isinstance(schema, TypeAdapter):
            schema.validate_python(data, strict=True)
        else:
            schema.model_validate(data, strict=True)
    except ValidationError as exc:
        raise UnreadableFile(f"{where} is not a ganagerie {_TITLES[id(schema)]} ({_first(exc)})") from None
    except ValueError as exc:
        raise UnreadableFile(f"{where} is not a ganagerie {_TITLES[id(schema)]} (it is {exc})") from None
    return data


def read(path: str | Path, schema: type[BaseModel] | TypeAdapter) -> Any:
    """One JSON file, read within ``files.read_text``'s bounds and checked against ``schema``."""
    return check(loads_json(read_text(path), str(path)), schema, str(path))


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """A run's ``metrics.jsonl``, every row checked (``files.read_jsonl``: a torn last line is
    dropped, a bad line before it is damage)."""
    return read_jsonl(path, lambda row, where: check(row, MetricsRow, where))


def _first(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    loc = [str(p) for p in error["loc"]]
    where = ".".join(loc[:6]) + (".…" if len(loc) > 6 else "") or "the top level"
    given = error.get("input")
    # a container's repr could be huge or nest past the recursion limit: its type only
    given = repr(given[:60] if isinstance(given, str) else given) if isinstance(
        given, (str, int, float, bool, type(None))) else type(given).__name__
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    msg = error["msg"][:1].lower() + error["msg"][1:]
    return f"{where}: {msg}, got {given}{more}"
