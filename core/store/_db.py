"""The engine and what every subject's queries share: the connection and the dialect's insert."""

import json
import re
import threading
from collections.abc import Callable, Sequence
from itertools import chain
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    Connection,
    DateTime,
    Dialect,
    Engine,
    Float,
    Integer,
    String,
    Table,
    Text,
    TypeDecorator,
    bindparam,
    cast,
    column,
    event,
    func,
    select,
)
from sqlmodel import create_engine


def connect(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL and a busy timeout so readers never block the poller."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            json_serializer=to_json,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, json_serializer=to_json)


def dialect_insert(engine: Engine) -> Callable[..., Any]:
    """The INSERT that knows ON CONFLICT for `engine`'s dialect (SQLite or PostgreSQL).

    Only that dialect's module is imported: PostgreSQL's costs a SQLite node ~25 ms at start.
    """
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


class BulkInsert:
    """INSERT … ON CONFLICT DO NOTHING of a page of rows, giving back `returning` of each row
    inserted (plain columns only: they come back as the driver reads them).

    On PostgreSQL the whole page is ONE statement of fixed text with ONE parameter, the page as
    a JSON array of objects: `INSERT … SELECT … FROM json_to_recordset(%s) AS page(column
    type, …)`. One C-encoded JSON text replaces a parameter a value (psycopg adapts each in
    Python), and one statement a page replaces one a row (a row's own INSERT in psycopg's
    pipelined executemany cost ~190 µs here, most of the store's share). The values are what
    the columns' own types would bind: a type's own conversion (aware UTC datetimes, reasons),
    and JSON columns' values nested in the page, which PostgreSQL's json keeps as the very text
    the encoder wrote. A page with an escaped NUL or an unpaired surrogate (PostgreSQL will not
    unescape those) carries its JSON values as strings instead, cast to json as they are.
    On SQLite a page is one multi-row `INSERT … VALUES (?, …), (?, …)` of the values each
    column's type binds (its bind processor, once a value), as many rows a statement as SQLite
    takes parameters: SQLAlchemy's own executemany spent more on its generic parameter
    handling (a compiled parameter dict a row) than SQLite spent storing the rows.
    """

    def __init__(
        self,
        engine: Engine,
        table: Table,
        conflict: Sequence[str],
        returning: Sequence[ColumnElement[Any]] = (),
    ):
        self.dialect = engine.dialect
        self.table = table
        self.conflict = list(conflict)
        self.returning = list(returning)
        # The columns' Python-side defaults, which SQLAlchemy would fill in for absent keys.
        self.defaults: dict[str, Any] = {}
        for each in table.columns:
            if each.default is None:
                continue
            if not each.default.is_scalar:
                raise TypeError(f"{table.name}.{each.key}: only scalar defaults are filled in")
            self.defaults[each.key] = each.default.arg  # type: ignore[attr-defined]
        for each in table.columns if self.dialect.name == "postgresql" else ():
            if not isinstance(getattr(each.type, "impl_instance", each.type), _AS_JSON):
                # A JSON page carries these as PostgreSQL parses them back; others would
                # silently become their str().
                raise TypeError(f"{table.name}.{each.key}: {each.type!r} does not travel as JSON")
        self.json = {each.key for each in table.columns if _is_json(each.type)}
        # What each column's type does to a value before it is bound.
        self.converters: dict[str, Callable[[Any], Any]] = {}
        for each in table.columns:
            own = _own_conversion(each.type, self.dialect)
            if own is not None:
                self.converters[each.key] = own
        # SQLite: what each column's type binds, as SQLAlchemy's executemany would apply it.
        self.binders = {each.key: binder(each, self.dialect) for each in table.columns}
        self._compiled: dict[tuple[tuple[str, ...], bool], str] = {}
        # SQLite's statement of each set of keys: its head, one row's parameters, its tail.
        self._values_parts: dict[tuple[str, ...], tuple[str, str, str]] = {}

    def run(self, connection: Connection, rows: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
        if not rows:
            return []
        keys = tuple(dict.fromkeys([*rows[0], *self.defaults]))
        if self.dialect.name != "postgresql":
            return self._run_values(connection, keys, rows)
        converters = [(key, self.converters[key]) for key in keys if key in self.converters]
        json_keys = [key for key in keys if key in self.json]
        page = []
        nulls = False
        for row in rows:
            values = {**self.defaults, **row}
            for key, convert in converters:
                values[key] = convert(values[key])
            nulls = nulls or any(values[key] is None for key in json_keys)
            page.append(values)
        text = to_json(page)
        nested = not (nulls or _refused_nested(text))
        if not nested:
            for values in page:
                for key in json_keys:
                    values[key] = to_json(values[key])
            text = to_json(page)
        result = connection.exec_driver_sql(self._compile(keys, nested), (text,))
        return [tuple(row) for row in result] if self.returning else []

    def _run_values(
        self, connection: Connection, keys: tuple[str, ...], rows: Sequence[dict[str, Any]]
    ) -> list[tuple[Any, ...]]:
        # A column of the page at a time: a value a loop turn, where a row at a time took a
        # dict merge and a turn for each of its columns.
        columns = []
        for key in keys:
            if key in self.defaults:
                default = self.defaults[key]
                values = [row.get(key, default) for row in rows]
            else:
                values = [row[key] for row in rows]
            bind = self.binders[key]
            columns.append(values if bind is None else _bound(values, bind))
        bound = list(zip(*columns, strict=True))
        per_statement = max(1, self.dialect.insertmanyvalues_max_parameters // len(keys))
        inserted: list[tuple[Any, ...]] = []
        for start in range(0, len(rows), per_statement):
            chunk = bound[start : start + per_statement]
            parameters = tuple(chain.from_iterable(chunk))
            result = connection.exec_driver_sql(self._values_sql(keys, len(chunk)), parameters)
            if self.returning:
                inserted.extend(tuple(row) for row in result.fetchall())  # not a row a call
        return inserted

    def _values_sql(self, keys: tuple[str, ...], count: int) -> str:
        """`INSERT … VALUES` of `count` rows with `keys`, in SQLite's `?` parameters."""
        if keys not in self._values_parts:
            quote = self.dialect.identifier_preparer.quote
            head = f"INSERT INTO {quote(self.table.name)} ({', '.join(map(quote, keys))}) VALUES "
            tail = f" ON CONFLICT ({', '.join(map(quote, self.conflict))}) DO NOTHING"
            if self.returning:
                tail += " RETURNING " + ", ".join(quote(each.name) for each in self.returning)
            self._values_parts[keys] = (head, "(" + ", ".join("?" * len(keys)) + ")", tail)
        head, row, tail = self._values_parts[keys]
        return head + ", ".join([row] * count) + tail

    def _compile(self, keys: tuple[str, ...], nested: bool) -> str:
        """The statement inserting a JSON page of rows with `keys` (PostgreSQL's only), its
        JSON columns `nested` in the page or carried as strings."""
        from sqlalchemy.dialects.postgresql import insert

        if (keys, nested) not in self._compiled:
            carried = JSON() if nested else Text()
            fields = [
                column(key, carried if key in self.json else self.table.c[key].type) for key in keys
            ]
            page = func.json_to_recordset(bindparam("page")).table_valued(*fields)
            page = page.render_derived(name="page", with_types=True)
            values = [
                cast(page.c[key], JSON) if key in self.json and not nested else page.c[key]
                for key in keys
            ]
            statement = (
                insert(self.table)
                .from_select(list(keys), select(*values), include_defaults=False)
                .on_conflict_do_nothing(index_elements=self.conflict)
            )
            if self.returning:
                statement = statement.returning(*self.returning)
            # One positional parameter: psycopg need not look names up in a dict.
            sql = statement.compile(dialect=self.dialect).string
            self._compiled[keys, nested] = sql.replace("%(page)s", "%s::json")
        return self._compiled[keys, nested]


_UNSEEN = object()


def _bound(values: list[Any], bind: Callable[[Any], Any]) -> list[Any]:
    """`values` as `bind` binds them, bound once for a run of the same object: a page's rows
    share their fetched_at, not_before and created_at, and a bind processor depends on its
    value alone."""
    out = []
    last: Any = _UNSEEN
    for value in values:
        if value is not last:
            last, last_bound = value, bind(value)
        out.append(last_bound)
    return out


# What PostgreSQL refuses in a page's nested JSON values, which json_to_recordset unescapes to
# check (a JSON string's text it takes as it is): an escaped NUL, an unpaired UTF-16 surrogate.
# A pair (an emoji) matches as one, longer; a match may be a false alarm (an escaped backslash
# before "u0000"): that page goes the slower way, its JSON values as strings.
_ESCAPES = re.compile(r"\\u(?:d[89ab][0-9a-f]{2}\\ud[c-f][0-9a-f]{2}|0000|d[89a-f][0-9a-f]{2})")


def _refused_nested(text: str) -> bool:
    return any(len(found.group()) == 6 for found in _ESCAPES.finditer(text))


# The column types whose values a JSON page carries faithfully (datetimes as their str()).
_AS_JSON = (String, Integer, Float, Boolean, DateTime, JSON)


def binder(each: ColumnElement[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """What `each`'s type does to a value before the driver binds it on `dialect`, as SQLAlchemy
    applies it: a TypeDecorator's own conversion, then its dialect's (SQLite's datetime text)."""
    return each.type.dialect_impl(dialect).bind_processor(dialect)


def _is_json(kind: Any) -> bool:
    return isinstance(kind, JSON) or isinstance(getattr(kind, "impl_instance", None), JSON)


def _own_conversion(kind: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    """A TypeDecorator's own process_bind_param, bound to `dialect`; None for other types."""
    if not isinstance(kind, TypeDecorator):
        return None
    if type(kind).process_bind_param is TypeDecorator.process_bind_param:
        return None
    process = kind.process_bind_param
    return lambda value: process(value, dialect)


class StoreBase:
    """What every subject's methods rely on; `core.store.Store` sets it up."""

    engine: Engine
    # The node this process is (core/leases.py), written on the actions it claims, so a
    # crash recovery elsewhere retries only the actions of nodes that are gone.
    node: str
    _insert: Callable[..., Any]


def to_json(value: Any) -> str:
    # Payloads come from outside; anything json can't take (bytes, odd numbers) becomes text.
    # ASCII escapes keep unpaired surrogates and NULs from reaching the database as raw text.
    try:
        encode = _THREAD.encode
    except AttributeError:
        encode = _THREAD.encode = _encoder()
    try:
        return "".join(encode(value, 0))
    except BaseException:
        _THREAD.encode = _encoder()  # the failed call may have left its markers behind
        raise


def _encoder() -> Callable[[Any, int], Any]:
    """What json.dumps(value, default=str) builds on every call, built once: the same text.

    A thread's own: its check for circular values keeps a dict of the objects it is in.
    """

    def plain(value: Any, _level: int) -> tuple[str]:
        return (json.dumps(value, default=str),)

    make = json.encoder.c_make_encoder  # None in a Python built without the C accelerator
    try:
        fast = make({}, str, json.encoder.encode_basestring_ascii, None, ": ", ", ", *_FLAGS)
        same = "".join(fast(_JSON_SAMPLE, 0)) == json.dumps(_JSON_SAMPLE, default=str)
    except TypeError:  # another Python's private signature: not worth guessing
        return plain
    return fast if same else plain


# c_make_encoder's sort_keys, skipkeys, allow_nan as json.dumps's defaults (Python 3.11's
# signature), and a sample that must come out as json.dumps writes it before it is used.
_FLAGS = (False, False, True)
_JSON_SAMPLE = {"a": [1, 2.5, float("nan"), None, True, "é\x00\ud83d🙂"], "b": b"x", 3: ()}


_THREAD = threading.local()
