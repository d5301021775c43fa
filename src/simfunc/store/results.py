"""The results database: one SQLite file per run directory, queryable with SQL and pandas.

Only the driver process writes it (the runner calls each job's ``record`` function there), so
there is a single writer; the file uses WAL mode, so readers (a notebook, ``sqlite3`` on the
command line) can query it while a study runs. NaN and infinities are never stored: writing one
raises InputError.

Schema
------
``runs`` — one row per execution of a study::

    run_id TEXT PRIMARY KEY     "<study>-<profile>-<UTC time>-<random>"
    study, profile TEXT         settings TEXT (JSON)
    simfunc_version, python_version, torch_version, numpy_version, host TEXT
    started, finished TEXT      ISO 8601, UTC
    status TEXT                 running | completed | failed | interrupted

``models`` — every network, checkpoint or agent a study compares (re-adding a model_id updates
its row)::

    model_id TEXT PRIMARY KEY   run_id TEXT (the run that last recorded it)
    kind TEXT                   e.g. classifier | checkpoint | agent
    arch, dataset TEXT          architecture; training set or environment
    seed, epoch INTEGER         epoch: training epochs (or updates) done; NULL when not relevant
    trained INTEGER             0 for untrained (randomly initialised) models, else 1
    accuracy REAL               test accuracy of classifiers, in [0, 1]
    mean_return REAL            mean episode return of RL agents
    parent TEXT                 for a checkpoint, the model_id of the model it is a stage of
    artifact TEXT               "namespace/key" of the cache entry that holds it
    config, extra TEXT          JSON objects (query with json_extract(config, '$.lr'))

``pairs`` — one similarity value per (model pair, test set, layer, measure); re-recording the
same five-tuple replaces its value (an upsert)::

    run_id TEXT, model_a TEXT, model_b TEXT, test_set TEXT, layer TEXT, measure TEXT,
    value REAL NOT NULL,  UNIQUE (model_a, model_b, test_set, layer, measure)

    Output measures (jsd, spearman, ...) use the layer name of the outputs, e.g. "output";
    test_set and layer are strings ("" when a study has no such notion), never NULL.

``scalars`` — study-level numbers (an SVM accuracy, a fitted slope); unique on (study, name)::

    run_id TEXT, study TEXT, name TEXT, value REAL NOT NULL, extra TEXT (JSON)

``notes`` — what a run left out and why: a measure undefined on a pair (InputError), a value
that was not finite, a warning raised while measuring. Unique on all but run_id::

    run_id TEXT, study TEXT, context TEXT (where: the job or pair, e.g. "cnn-s0 vs mlp-s1 on
    digits"), layer TEXT, measure TEXT ("" when the note is not about one layer or measure),
    reason TEXT

Layer names: representational measures are recorded under the name of the compared layer
(``features``, ``masked``...); output measures under :data:`OUTPUT_LAYER` (``"output"``).

Examples
--------
SQL (``sqlite3 runs/architectures-quick/results.sqlite``)::

    SELECT m.arch, avg(p.value) FROM pairs p JOIN models m ON m.model_id = p.model_a
    WHERE p.measure = 'linear_cka' AND p.layer = 'features' GROUP BY m.arch;

pandas::

    ResultsDB("runs/architectures-quick/results.sqlite").wide_pairs(layer=["features", "output"])

gives one row per (model_a, model_b, test_set) and one column per measure (linear_cka, jsd, ...).
"""

from __future__ import annotations

import json
import math
import os
import platform
import socket
import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from importlib import metadata
from numbers import Integral, Real
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simfunc.errors import InputError
from simfunc.measure import OUTPUT_LAYER
from simfunc.io.atomic import atomic_write_text
from simfunc.io.hashing import normalize_config

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ResultsDB", "SCHEMA_VERSION", "RUN_STATUSES", "OUTPUT_LAYER"]

# Version 1 gained the notes table later; it only adds a table (CREATE IF NOT EXISTS), which
# older readers ignore, so the version did not change.
SCHEMA_VERSION = 1
RUN_STATUSES = ("running", "completed", "failed", "interrupted")
# OUTPUT_LAYER, the layer name output measures are recorded under, is defined beside what
# a measure declares (simfunc.measure) so that comparing models needs no database.

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    study TEXT NOT NULL,
    profile TEXT NOT NULL,
    settings TEXT NOT NULL,
    simfunc_version TEXT,
    python_version TEXT,
    torch_version TEXT,
    numpy_version TEXT,
    host TEXT,
    started TEXT NOT NULL,
    finished TEXT,
    status TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS models (
    model_id TEXT PRIMARY KEY,
    run_id TEXT,
    kind TEXT NOT NULL,
    arch TEXT,
    dataset TEXT,
    seed INTEGER,
    epoch INTEGER,
    trained INTEGER NOT NULL,
    accuracy REAL,
    mean_return REAL,
    parent TEXT,
    artifact TEXT,
    config TEXT NOT NULL,
    extra TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pairs (
    run_id TEXT,
    model_a TEXT NOT NULL,
    model_b TEXT NOT NULL,
    test_set TEXT NOT NULL,
    layer TEXT NOT NULL,
    measure TEXT NOT NULL,
    value REAL NOT NULL,
    UNIQUE (model_a, model_b, test_set, layer, measure)
);
CREATE TABLE IF NOT EXISTS scalars (
    run_id TEXT,
    study TEXT NOT NULL,
    name TEXT NOT NULL,
    value REAL NOT NULL,
    extra TEXT NOT NULL,
    UNIQUE (study, name)
);
CREATE TABLE IF NOT EXISTS notes (
    run_id TEXT,
    study TEXT NOT NULL,
    context TEXT NOT NULL,
    layer TEXT NOT NULL,
    measure TEXT NOT NULL,
    reason TEXT NOT NULL,
    UNIQUE (study, context, layer, measure, reason)
);
CREATE INDEX IF NOT EXISTS pairs_by_measure ON pairs (measure, test_set, layer);
CREATE INDEX IF NOT EXISTS pairs_by_model_b ON pairs (model_b);
CREATE INDEX IF NOT EXISTS pairs_by_run ON pairs (run_id);
CREATE INDEX IF NOT EXISTS models_by_kind ON models (kind, arch, dataset);
CREATE INDEX IF NOT EXISTS models_by_run ON models (run_id);
CREATE INDEX IF NOT EXISTS scalars_by_run ON scalars (run_id);
CREATE INDEX IF NOT EXISTS notes_by_run ON notes (run_id);
"""

_PAIR_COLUMNS = ("run_id", "model_a", "model_b", "test_set", "layer", "measure", "value")
_MODEL_COLUMNS = (
    "model_id",
    "run_id",
    "kind",
    "arch",
    "dataset",
    "seed",
    "epoch",
    "trained",
    "accuracy",
    "mean_return",
    "parent",
    "artifact",
    "config",
    "extra",
)
_SCALAR_COLUMNS = ("run_id", "study", "name", "value", "extra")
_NOTE_COLUMNS = ("run_id", "study", "context", "layer", "measure", "reason")
_RUN_COLUMNS = (
    "run_id",
    "study",
    "profile",
    "settings",
    "simfunc_version",
    "python_version",
    "torch_version",
    "numpy_version",
    "host",
    "started",
    "finished",
    "status",
)
_TABLES = {
    "runs": _RUN_COLUMNS,
    "models": _MODEL_COLUMNS,
    "pairs": _PAIR_COLUMNS,
    "scalars": _SCALAR_COLUMNS,
    "notes": _NOTE_COLUMNS,
}
_JSON_COLUMNS = {"settings", "config", "extra"}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _finite(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise InputError(f"{name} must be a real number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise InputError(f"{name} is {number!r}: results are never NaN or infinite")
    return number


def _optional_finite(value: Any, name: str) -> float | None:
    return None if value is None else _finite(value, name)


def _optional_int(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise InputError(f"{name} must be an integer or None, got {value!r}")
    return int(value)


def _text(value: Any, name: str, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or (not allow_empty and not value):
        kind = "a string" if allow_empty else "a non-empty string"
        raise InputError(f"{name} must be {kind}, got {value!r}")
    return value


def _optional_text(value: Any, name: str) -> str | None:
    return None if value is None else _text(value, name, allow_empty=True)


def _mappings(rows: Any, what: str, columns: Sequence[str],
              required: Sequence[str]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """``(f"{what}[i]", row)`` for each row of ``rows``, an iterable of mappings whose keys are
    among ``columns`` and include ``required`` (InputError naming the row otherwise)."""
    if isinstance(rows, (Mapping, str, bytes)):
        raise InputError(f"{what} must be an iterable of mappings, one per row, not a mapping")
    for index, row in enumerate(rows):
        name = f"{what}[{index}]"
        if not isinstance(row, Mapping):
            raise InputError(f"{name} is a {type(row).__name__}: expected a mapping")
        missing = [column for column in required if column not in row]
        unknown = sorted(set(row) - set(columns))
        if missing or unknown:
            raise InputError(
                f"{name} "
                + (f"lacks {', '.join(missing)}" if missing else "")
                + ("; " if missing and unknown else "")
                + (f"has unknown columns {', '.join(unknown)}" if unknown else "")
            )
        yield name, row


def _json(value: Any, name: str) -> str:
    return json.dumps(normalize_config({} if value is None else value, name), sort_keys=True)


class ResultsDB:
    """SQLite results database at ``path`` (created with its schema if absent).

    Use it as a context manager, or call :meth:`close`. See the module docstring for the schema.

    ``run_id`` is the run started last by :meth:`start_run` (until :meth:`finish_run` ends it);
    ``add_model``, ``add_pairs``, ``add_scalar`` and ``add_notes`` tag their rows with it unless
    given another, so a job's ``record`` function need not know the run (``add_notes`` takes
    the run's study likewise).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise InputError(f"path must be a file path, got {type(path).__name__}")
        self.path = Path(path) if str(path) != ":memory:" else Path(":memory:")
        if str(path) != ":memory:":
            if self.path.is_dir():
                raise InputError(f"path {str(self.path)!r} is a directory: expected a file")
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.run_id: str | None = None
        self.study: str | None = None  # the study of the run in progress
        self._connection: sqlite3.Connection | None = sqlite3.connect(str(path), timeout=30.0)
        connection = self._connection
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            connection.close()
            raise InputError(
                f"{str(path)!r} has results schema version {version}; this simfunc reads "
                f"version {SCHEMA_VERSION} or older: upgrade simfunc"
            )
        with connection:
            connection.executescript(_SCHEMA)
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # -- lifetime ------------------------------------------------------------------------------

    @property
    def connection(self) -> sqlite3.Connection:
        if self._connection is None:
            raise InputError(f"ResultsDB({str(self.path)!r}) is closed")
        return self._connection

    def close(self) -> None:
        """Close the database (idempotent)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> ResultsDB:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ResultsDB({str(self.path)!r})"

    # -- runs ----------------------------------------------------------------------------------

    def start_run(self, study: str, profile: str, settings: Mapping[str, Any] | None = None) -> str:
        """Record the start of a run and return its run_id."""
        _text(study, "study")
        _text(profile, "profile")
        settings_json = _json(settings, "settings")
        started = _now()
        stamp = started.replace("-", "").replace(":", "").replace("+0000", "Z")
        run_id = f"{study}-{profile}-{stamp}-{uuid.uuid4().hex[:6]}"
        with self.connection as connection:
            connection.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 'running')",
                (
                    run_id,
                    study,
                    profile,
                    settings_json,
                    _simfunc_version(),
                    platform.python_version(),
                    _package_version("torch"),
                    _package_version("numpy"),
                    socket.gethostname(),
                    started,
                ),
            )
        self.run_id = run_id
        self.study = study
        return run_id

    def finish_run(self, run_id: str, status: str = "completed") -> None:
        """Mark a run finished with ``status`` (completed, failed or interrupted)."""
        if status not in RUN_STATUSES[1:]:
            raise InputError(
                f"status must be one of {', '.join(map(repr, RUN_STATUSES[1:]))}; got {status!r}"
            )
        with self.connection as connection:
            cursor = connection.execute(
                "UPDATE runs SET finished = ?, status = ? WHERE run_id = ?",
                (_now(), status, run_id),
            )
        if cursor.rowcount == 0:
            raise InputError(f"run_id {run_id!r} is not in {self!r}")
        if self.run_id == run_id:
            self.run_id = None
            self.study = None

    # -- writing results -----------------------------------------------------------------------

    def add_model(
        self,
        model_id: str,
        *,
        kind: str,
        run_id: str | None = None,
        arch: str | None = None,
        dataset: str | None = None,
        seed: int | None = None,
        epoch: int | None = None,
        trained: bool = True,
        accuracy: float | None = None,
        mean_return: float | None = None,
        parent: str | None = None,
        artifact: str | None = None,
        config: Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Insert or update (by ``model_id``) one model. See the schema for the columns."""
        if not isinstance(trained, bool):
            raise InputError(f"trained must be True or False, got {trained!r}")
        accuracy = _optional_finite(accuracy, "accuracy")
        if accuracy is not None and not 0.0 <= accuracy <= 1.0:
            raise InputError(f"accuracy must be in [0, 1], got {accuracy!r}")
        row = (
            _text(model_id, "model_id"),
            _optional_text(run_id or self.run_id, "run_id"),
            _text(kind, "kind"),
            _optional_text(arch, "arch"),
            _optional_text(dataset, "dataset"),
            _optional_int(seed, "seed"),
            _optional_int(epoch, "epoch"),
            int(trained),
            accuracy,
            _optional_finite(mean_return, "mean_return"),
            _optional_text(parent, "parent"),
            _optional_text(artifact, "artifact"),
            _json(config, "config"),
            _json(extra, "extra"),
        )
        updates = ", ".join(f"{column} = excluded.{column}" for column in _MODEL_COLUMNS[1:])
        with self.connection as connection:
            connection.execute(
                f"INSERT INTO models VALUES ({', '.join('?' * len(row))}) "
                f"ON CONFLICT (model_id) DO UPDATE SET {updates}",
                row,
            )

    def add_pairs(self, rows: Iterable[Mapping[str, Any]] | Any, run_id: str | None = None) -> int:
        """Insert or update pair rows in one transaction; return how many were written.

        Each row is a mapping with ``model_a``, ``model_b``, ``test_set``, ``layer``,
        ``measure``, ``value`` and optionally ``run_id`` (default: the ``run_id`` argument); a
        pandas DataFrame with those columns works too. Every row is validated before anything
        is written: one NaN rejects the whole batch. Rows without a run_id get the current run's.
        """
        if hasattr(rows, "to_dict") and hasattr(rows, "columns"):
            rows = rows.to_dict("records")
        run_id = _optional_text(run_id, "run_id") or self.run_id
        values = []
        for name, row in _mappings(rows, "rows", _PAIR_COLUMNS, _PAIR_COLUMNS[1:]):
            values.append(
                (
                    _optional_text(row.get("run_id", run_id), f"{name}['run_id']"),
                    _text(row["model_a"], f"{name}['model_a']"),
                    _text(row["model_b"], f"{name}['model_b']"),
                    _text(row["test_set"], f"{name}['test_set']", allow_empty=True),
                    _text(row["layer"], f"{name}['layer']", allow_empty=True),
                    _text(row["measure"], f"{name}['measure']"),
                    _finite(row["value"], f"{name}['value']"),
                )
            )
        with self.connection as connection:
            connection.executemany(
                "INSERT INTO pairs VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (model_a, model_b, test_set, layer, measure) "
                "DO UPDATE SET value = excluded.value, run_id = excluded.run_id",
                values,
            )
        return len(values)

    def add_scalar(
        self,
        study: str,
        name: str,
        value: float,
        *,
        run_id: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Insert or update (by study and name) one study-level number."""
        row = (
            _optional_text(run_id or self.run_id, "run_id"),
            _text(study, "study"),
            _text(name, "name"),
            _finite(value, "value"),
            _json(extra, "extra"),
        )
        with self.connection as connection:
            connection.execute(
                "INSERT INTO scalars VALUES (?, ?, ?, ?, ?) ON CONFLICT (study, name) "
                "DO UPDATE SET value = excluded.value, run_id = excluded.run_id, "
                "extra = excluded.extra",
                row,
            )

    def add_notes(
        self,
        notes: Iterable[Mapping[str, Any]],
        *,
        study: str | None = None,
        run_id: str | None = None,
    ) -> int:
        """Record what was left out and why; return how many notes were written.

        Each note is a mapping with ``reason`` and optionally ``context`` (where: the job or
        the pair), ``layer`` and ``measure`` (each "" when absent). ``study`` defaults to the
        study of the run in progress. Recording the same note again updates its run_id.
        """
        study = _text(study if study is not None else self.study, "study")
        run_id = _optional_text(run_id, "run_id") or self.run_id
        values = []
        for name, note in _mappings(notes, "notes", _NOTE_COLUMNS[2:], ("reason",)):
            values.append((
                run_id,
                study,
                _text(note.get("context", ""), f"{name}['context']", allow_empty=True),
                _text(note.get("layer", ""), f"{name}['layer']", allow_empty=True),
                _text(note.get("measure", ""), f"{name}['measure']", allow_empty=True),
                _text(note.get("reason"), f"{name}['reason']"),
            ))
        with self.connection as connection:
            connection.executemany(
                "INSERT INTO notes VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (study, context, layer, measure, reason) "
                "DO UPDATE SET run_id = excluded.run_id",
                values,
            )
        return len(values)

    def keep_only_run(self, run_id: str) -> int:
        """Delete the models, pairs, scalars and notes that ``run_id`` did not record; return
        how many.

        A study reruns its whole plan (cached jobs record again, with the new run_id), so after
        a successful run this leaves exactly what the current settings produced: a model or pair
        dropped from the settings does not linger in the analysis. The ``runs`` table keeps the
        history of every run.
        """
        _text(run_id, "run_id")
        removed = 0
        with self.connection as connection:
            for table in ("pairs", "models", "scalars", "notes"):
                cursor = connection.execute(
                    f"DELETE FROM {table} WHERE run_id IS NOT ? ", (run_id,)
                )
                removed += cursor.rowcount
        return removed

    def content_digest(self) -> str:
        """A hash of what an analysis can read: every model, pair, scalar and note, whichever
        run recorded it and in whatever order (the ``runs`` history and run ids left out), so
        two runs that recorded the same results have the same digest."""
        import hashlib

        digest = hashlib.sha256()
        for table in ("models", "pairs", "scalars", "notes"):
            columns = [row[1] for row in self.connection.execute(f"PRAGMA table_info({table})")
                       if row[1] != "run_id"]
            rows = self.connection.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
            digest.update(f"{table}:{','.join(columns)}:{len(rows)}\n".encode())
            for row in sorted(map(repr, rows)):
                digest.update(row.encode())
                digest.update(b"\n")
        return digest.hexdigest()

    # -- reading -------------------------------------------------------------------------------

    def query(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> pd.DataFrame:
        """Run any SQL query (with ``?`` or ``:name`` parameters) and return a DataFrame."""
        import pandas as pd

        _text(sql, "sql")
        try:
            return pd.read_sql_query(sql, self.connection, params=params)
        except (sqlite3.Error, pd.errors.DatabaseError) as error:
            raise InputError(f"sql failed: {error}") from None

    def pairs(self, **filters: Any) -> pd.DataFrame:
        """Pair rows as a DataFrame, optionally filtered: ``pairs(measure="jsd", layer=[...])``.

        A filter value may be a single value, a list/tuple/set of values, or None (IS NULL).
        """
        return self._select("pairs", filters)

    def models(self, **filters: Any) -> pd.DataFrame:
        """Model rows as a DataFrame (config and extra parsed to dicts, trained as bool)."""
        frame = self._select("models", filters)
        frame["trained"] = frame["trained"].astype(bool)
        return frame

    def runs(self, **filters: Any) -> pd.DataFrame:
        """Run rows as a DataFrame (settings parsed to dicts)."""
        return self._select("runs", filters)

    def scalars(self, **filters: Any) -> pd.DataFrame:
        """Scalar rows as a DataFrame (extra parsed to dicts)."""
        return self._select("scalars", filters)

    def notes(self, **filters: Any) -> pd.DataFrame:
        """Note rows as a DataFrame (what was left out, where and why), filtered as
        :meth:`pairs` is: ``notes(study="architectures", measure="cca")``."""
        return self._select("notes", filters)

    def wide_pairs(
        self, index: Sequence[str] = ("model_a", "model_b", "test_set"), **filters: Any
    ) -> pd.DataFrame:
        """One row per pair (the ``index`` columns), one column per measure.

        ``filters`` select rows as in :meth:`pairs`; typically ``layer=[...]`` picks the layer
        of each measure (``["features", "output"]``). If a measure has more than one value
        for the same ``index`` (for example at two layers) an InputError says so: filter
        further, or add ``"layer"`` to ``index``. A measure missing for some pair is NaN in
        that row of the frame (the database itself never holds NaN).
        """
        import pandas as pd

        index = list(index)
        allowed = ("run_id", "model_a", "model_b", "test_set", "layer")
        for column in index:
            if column not in allowed:
                raise InputError(
                    f"index column {column!r} is not one of {', '.join(map(repr, allowed))}"
                )
        if len(set(index)) != len(index) or not index:
            raise InputError(f"index must list distinct columns, got {index!r}")
        frame = self.pairs(**filters)
        if frame.empty:
            return pd.DataFrame(columns=index)
        duplicated = frame.duplicated(subset=[*index, "measure"], keep=False)
        if duplicated.any():
            example = frame[duplicated].iloc[0]
            where = ", ".join(f"{column}={example[column]!r}" for column in index)
            raise InputError(
                f"measure {example['measure']!r} has several values for {where}: filter the "
                "rows (for example layer=...) or add the distinguishing column to index"
            )
        wide = frame.pivot(index=index, columns="measure", values="value").reset_index()
        wide.columns.name = None
        return wide

    def export_csv(self, directory: str | os.PathLike[str]) -> dict[str, Path]:
        """Write every table to ``directory/<table>.csv`` (JSON columns as JSON text)."""
        import pandas as pd

        target = Path(directory)
        if target.exists() and not target.is_dir():
            raise InputError(f"directory {str(target)!r} exists and is not a directory")
        target.mkdir(parents=True, exist_ok=True)
        written = {}
        for table in _TABLES:
            frame = pd.read_sql_query(f"SELECT * FROM {table} ORDER BY rowid", self.connection)
            written[table] = atomic_write_text(target / f"{table}.csv", frame.to_csv(index=False))
        return written

    def _select(self, table: str, filters: Mapping[str, Any]) -> pd.DataFrame:
        import pandas as pd

        columns = _TABLES[table]
        clauses, params = [], []
        for column, wanted in filters.items():
            if column not in columns:
                raise InputError(
                    f"{column!r} is not a column of {table}: filter by {', '.join(columns)}"
                )
            if wanted is None:
                clauses.append(f"{column} IS NULL")
            elif isinstance(wanted, (list, tuple, set, frozenset)):
                options = (
                    sorted(wanted, key=repr) if isinstance(wanted, (set, frozenset)) else wanted
                )
                if not options:
                    raise InputError(f"filter {column}= is an empty collection")
                clauses.append(f"{column} IN ({', '.join('?' * len(options))})")
                params.extend(options)
            else:
                clauses.append(f"{column} = ?")
                params.append(wanted)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        frame = pd.read_sql_query(
            f"SELECT * FROM {table}{where} ORDER BY rowid", self.connection, params=params
        )
        for column in _JSON_COLUMNS.intersection(frame.columns):
            frame[column] = frame[column].map(json.loads)
        return frame


def _simfunc_version() -> str:
    from simfunc import __version__

    return __version__
