"""The star schema's columns: types, personal-data handling and value conversion.

Column kinds and how they are written:

- ``int``, ``str``, ``bool``: as they are (CSV booleans: ``true`` / ``false``).
- ``time``: UTC. Parquet ``timestamp[ms, tz=UTC]`` (whole seconds); CSV ISO-8601 ``2024-03-05T02:00:00Z``.
- ``money``: a decimal in major units (Parquet ``decimal128(18, 2)``; CSV ``12.30``), always
  next to the same amount in integer minor units (``*_cents``), exactly as stored.
- ``date_key``: ``YYYYMMDD`` (int32) of a time in the configured zone (CRM_TZ), the join
  key to ``dim_date``.

Personal data (``pii``): ``name`` / ``phone`` / ``email`` / ``address`` are masked and free
text (subjects, bodies, notes, comments) is dropped unless ``--include-pii``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from crmcli.core import masking
from crmcli.core.errors import OperationalError

STORED_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


MASKS = masking.PII_MASKS


@dataclass(frozen=True)
class Col:
    name: str
    kind: str  # int | str | bool | float | time | money | date_key
    source: str | None = None  # source column when derived (money, date_key)
    pii: str = ""  # "" | name | phone | email | address (masked) | text (dropped)

    @property
    def src(self) -> str:
        return self.source or self.name


def _money(name: str) -> tuple[Col, Col]:
    return Col(name, "money", source=f"{name}_cents"), Col(f"{name}_cents", "int")


TABLES: dict[str, tuple[Col, ...]] = {
    "dim_customer": (
        Col("customer_id", "int"),
        Col("external_id", "str"),
        Col("name", "str", pii="name"),
        Col("phone", "str", pii="phone"),
        Col("email", "str", pii="email"),
        Col("email_domain", "str"),
        Col("address", "str", pii="address"),
        Col("company", "str"),
        Col("company_id", "int"),
        Col("lifecycle", "str"),
        Col("owner", "str"),
        Col("tags", "str"),
        Col("notes", "str", pii="text"),
        Col("created_at", "time"),
        Col("created_date_key", "date_key", source="created_at"),
        Col("updated_at", "time"),
        Col("erased_at", "time"),
    ),
    "dim_agent": (
        Col("agent_id", "int"),
        Col("name", "str"),
        Col("email", "str", pii="email"),
        Col("active", "bool"),
        Col("max_open", "int"),
        Col("skills", "str"),
        Col("created_at", "time"),
    ),
    "dim_campaign": (
        Col("campaign_id", "int"),
        Col("name", "str"),
        Col("channel", "str"),
        Col("description", "str", pii="text"),
        Col("status", "str"),
        Col("segment", "str"),
        Col("starts_at", "time"),
        Col("ends_at", "time"),
        *_money("cost"),
        Col("currency", "str"),
        Col("created_at", "time"),
        Col("updated_at", "time"),
    ),
    "dim_date": (
        Col("date_key", "int"),
        Col("date", "date"),
        Col("year", "int"),
        Col("quarter", "int"),
        Col("month", "int"),
        Col("day", "int"),
        Col("year_month", "str"),
        Col("iso_year", "int"),
        Col("iso_week", "int"),
        Col("weekday", "int"),
        Col("weekday_name", "str"),
        Col("is_weekend", "bool"),
    ),
    "fact_communication": (
        Col("communication_id", "int"),
        Col("customer_id", "int"),
        Col("agent_id", "int"),
        Col("agent_name", "str"),
        Col("channel", "str"),
        Col("direction", "str"),
        Col("occurred_at", "time"),
        Col("date_key", "date_key", source="occurred_at"),
        Col("duration_s", "int"),
        Col("follow_up_at", "time"),
        Col("done_at", "time"),
        Col("subject", "str", pii="text"),
        Col("content", "str", pii="text"),
        Col("external_id", "str"),
        Col("created_at", "time"),
        Col("updated_at", "time"),
    ),
    "fact_ticket": (
        Col("ticket_id", "int"),
        Col("external_id", "str"),
        Col("customer_id", "int"),
        Col("agent_id", "int"),
        Col("agent_name", "str"),
        Col("subject", "str", pii="text"),
        Col("description", "str", pii="text"),
        Col("category", "str"),
        Col("priority", "str"),
        Col("status", "str"),
        Col("channel", "str"),
        Col("created_at", "time"),
        Col("date_key", "date_key", source="created_at"),
        Col("first_response_at", "time"),
        Col("resolved_at", "time"),
        Col("closed_at", "time"),
        Col("due_at", "time"),
        Col("first_response_s", "int"),
        Col("resolution_s", "int"),
        Col("satisfaction", "int"),
        Col("satisfaction_comment", "str", pii="text"),
        Col("updated_at", "time"),
    ),
    "fact_ticket_event": (
        Col("event_id", "int"),
        Col("ticket_id", "int"),
        Col("occurred_at", "time"),
        Col("date_key", "date_key", source="occurred_at"),
        Col("actor", "str"),
        Col("kind", "str"),
        Col("from_status", "str"),
        Col("to_status", "str"),
        Col("internal", "bool"),
        Col("body", "str", pii="text"),
        Col("details", "str", pii="text"),
    ),
    "fact_campaign_member": (
        Col("campaign_id", "int"),
        Col("customer_id", "int"),
        Col("variant", "str"),
        Col("contacted_at", "time"),
        Col("date_key", "date_key", source="contacted_at"),
        Col("result", "str"),
        Col("responded_at", "time"),
        *_money("revenue"),
    ),
    "fact_order": (
        Col("order_id", "int"),
        Col("external_id", "str"),
        Col("customer_id", "int"),
        Col("ordered_at", "time"),
        Col("date_key", "date_key", source="ordered_at"),
        *_money("amount"),
        Col("currency", "str"),
        Col("created_at", "time"),
        Col("updated_at", "time"),
    ),
    "dim_company": (
        Col("company_id", "int"),
        Col("external_id", "str"),
        Col("name", "str"),
        Col("domain", "str"),
        Col("industry", "str"),
        Col("size", "int"),
        Col("owner", "str"),
        Col("tags", "str"),
        Col("created_at", "time"),
        Col("updated_at", "time"),
    ),
    "fact_deal": (
        Col("deal_id", "int"),
        Col("external_id", "str"),
        Col("customer_id", "int"),
        Col("company_id", "int"),
        Col("campaign_id", "int"),
        Col("title", "str", pii="text"),
        *_money("amount"),
        Col("currency", "str"),
        Col("stage", "str"),
        Col("stage_kind", "str"),
        Col("probability", "int"),
        Col("close_date", "str"),
        Col("owner", "str"),
        Col("source", "str"),
        Col("created_at", "time"),
        Col("date_key", "date_key", source="created_at"),
        Col("stage_changed_at", "time"),
        Col("won_at", "time"),
        Col("lost_at", "time"),
        Col("lost_reason", "str"),
        Col("updated_at", "time"),
    ),
    "fact_deal_event": (
        Col("event_id", "int"),
        Col("deal_id", "int"),
        Col("occurred_at", "time"),
        Col("date_key", "date_key", source="occurred_at"),
        Col("actor", "str"),
        Col("kind", "str"),
        Col("from_stage", "str"),
        Col("to_stage", "str"),
        *_money("amount"),
        Col("close_date", "str"),
        Col("note", "str", pii="text"),
    ),
    "fact_custom_value": (
        Col("field_id", "int"),
        Col("entity", "str"),
        Col("entity_id", "int"),
        Col("field_name", "str"),
        Col("field_type", "str"),
        Col("value_text", "str", pii="text"),
        Col("value_num", "float"),
    ),
    "deleted_rows": (
        Col("table_name", "str"),
        Col("key1", "int"),
        Col("key2", "int"),
    ),
}

KEYS: dict[str, tuple[str, ...]] = {
    "dim_customer": ("customer_id",),
    "dim_agent": ("agent_id",),
    "dim_campaign": ("campaign_id",),
    "dim_date": ("date_key",),
    "fact_communication": ("communication_id",),
    "fact_ticket": ("ticket_id",),
    "fact_ticket_event": ("event_id",),
    "fact_campaign_member": ("campaign_id", "customer_id"),
    "fact_order": ("order_id",),
    "dim_company": ("company_id",),
    "fact_deal": ("deal_id",),
    "fact_deal_event": ("event_id",),
    "fact_custom_value": ("field_id", "entity_id"),
    "deleted_rows": ("table_name", "key1", "key2"),
}

LOGICAL_TYPES = {
    "int": "int64",
    "str": "string",
    "bool": "boolean",
    "time": "timestamp_utc",
    "money": "decimal(18,2)",
    "date_key": "int32",
    "date": "date",
    "float": "float64",
}


def columns_for(table: str, include_pii: bool) -> tuple[Col, ...]:
    """The table's exported columns: free text is dropped when personal data is masked."""
    return tuple(c for c in TABLES[table] if include_pii or c.pii != "text")


def describe(table: str, include_pii: bool) -> list[dict[str, Any]]:
    """The column schema written to manifest.json."""
    out = []
    for col in columns_for(table, include_pii):
        entry: dict[str, Any] = {"name": col.name, "type": LOGICAL_TYPES[col.kind]}
        if col.pii:
            entry["pii"] = "included" if include_pii else "masked"
        out.append(entry)
    return out


def parse_time(value: Any) -> datetime | None:
    """A stored time (UTC text) -> an aware UTC datetime; naive text is taken as UTC."""
    if value is None or value == "":
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise OperationalError(f"unreadable stored time {value!r}") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def time_array(values: list[Any]) -> Any:
    """Stored time texts -> a pyarrow timestamp[s, UTC] array (vectorised; odd forms in Python)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.array(values, pa.string())
    parsed = pc.strptime(text, format=STORED_TIME_FORMAT, unit="s", error_is_null=True)
    odd = pc.and_(pc.is_null(parsed), pc.and_(pc.is_valid(text), pc.not_equal(text, "")))
    if pc.any(odd).as_py():
        fixed = parsed.to_pylist()
        for i, bad in enumerate(odd.to_pylist()):
            if bad:
                moment = parse_time(values[i])
                fixed[i] = moment.replace(tzinfo=None) if moment else None
        parsed = pa.array(fixed, pa.timestamp("s"))
    return parsed.cast(pa.timestamp("s", tz="UTC"))


class DateKeys:
    """Local-date keys (YYYYMMDD) of UTC times; remembers which keys it handed out."""

    def __init__(self, zone: tzinfo):
        self.zone = zone
        self.seen: set[int] = set()
        self._offsets: dict[int, int] = {}

    def _offset(self, slot: int) -> int:
        # One zone lookup per UTC quarter hour: real zones change their offset only on
        # quarter-hour boundaries (Lord Howe and Newfoundland at :30 UTC).
        if slot not in self._offsets:
            if len(self._offsets) > 200_000:
                self._offsets.clear()
            moment = datetime.fromtimestamp(slot * 900, UTC).astimezone(self.zone)
            self._offsets[slot] = int((moment.utcoffset() or timedelta(0)).total_seconds())
        return self._offsets[slot]

    def keys(self, times: Any) -> Any:
        """timestamp[s, UTC] array -> int32 array of local YYYYMMDD (nulls stay null)."""
        import numpy as np
        import pyarrow as pa

        valid = times.is_valid().to_numpy(zero_copy_only=False)
        seconds = times.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
        slots, where = np.unique(seconds // 900, return_inverse=True)
        offsets = np.array([self._offset(int(s)) for s in slots], dtype=np.int64)
        days, where_day = np.unique((seconds + offsets[where]) // 86400, return_inverse=True)
        day_keys = []
        for d in days:
            day = date(1970, 1, 1) + timedelta(days=int(d))
            day_keys.append(day.year * 10000 + day.month * 100 + day.day)
        keys = np.array(day_keys, dtype=np.int32)[where_day]
        used = np.unique(keys[valid])
        self.seen.update(int(k) for k in used)
        return pa.array(keys, type=pa.int32(), mask=~valid)


def convert(
    cols: Sequence[Col],
    names: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    include_pii: bool,
    date_keys: DateKeys,
) -> dict[str, Any]:
    """Source rows -> output columns as pyarrow arrays (masked, typed, derived)."""
    import pyarrow as pa

    index = {n: i for i, n in enumerate(names)}
    times: dict[str, Any] = {}

    def time_column(name: str) -> Any:
        if name not in times:
            i = index[name]
            times[name] = time_array([r[i] for r in rows])
        return times[name]

    out: dict[str, Any] = {}
    for col in cols:
        if col.kind == "time":
            out[col.name] = time_column(col.src)
        elif col.kind == "date_key":
            out[col.name] = date_keys.keys(time_column(col.src))
        elif col.kind == "money":
            i = index[col.src]
            out[col.name] = pa.array(
                [None if r[i] is None else Decimal(int(r[i])).scaleb(-2) for r in rows],
                pa.decimal128(18, 2),
            )
        elif col.kind == "bool":
            i = index[col.src]
            out[col.name] = pa.array([None if r[i] is None else bool(r[i]) for r in rows])
        else:
            i = index[col.src]
            values = [r[i] for r in rows]
            if col.pii in MASKS and not include_pii:
                mask = MASKS[col.pii]
                values = [mask(v) if isinstance(v, str) else v for v in values]
            out[col.name] = values
    return out


WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def date_rows(first: int, last: int, skip: tuple[int, int] | None = None) -> dict[str, list[Any]]:
    """dim_date columns for every day from `first` to `last` (YYYYMMDD), minus `skip`'s range."""
    out: dict[str, list[Any]] = {c.name: [] for c in TABLES["dim_date"]}
    day = date(first // 10000, first // 100 % 100, first % 100)
    end = date(last // 10000, last // 100 % 100, last % 100)
    while day <= end:
        key = day.year * 10000 + day.month * 100 + day.day
        if not (skip and skip[0] <= key <= skip[1]):
            iso = day.isocalendar()
            values = {
                "date_key": key,
                "date": day,
                "year": day.year,
                "quarter": (day.month - 1) // 3 + 1,
                "month": day.month,
                "day": day.day,
                "year_month": f"{day.year:04d}-{day.month:02d}",
                "iso_year": iso[0],
                "iso_week": iso[1],
                "weekday": iso[2],
                "weekday_name": WEEKDAYS[iso[2] - 1],
                "is_weekend": iso[2] >= 6,
            }
            for name, value in values.items():
                out[name].append(value)
        day += timedelta(days=1)
    return out
