"""`crm report value`: customer value from orders: RFM segments, and CLV from the BG/NBD
purchase model and the Gamma-Gamma spend model (crmcli.analytics.clv).

Time is counted in calendar days of the configured zone: orders on the same local day are one
transaction (their amounts added up); a customer's frequency is the number of repeat
transaction days, recency the time from the first to the last transaction day, and T the time
from the first transaction day to the calibration end day, in the chosen time unit.

The Gamma-Gamma model is fitted, as in Fader & Hardie's note and the published CDNOW
numbers (p = 6.25, q = 3.74, gamma = 15.44 from 946 repeat customers), on the average value of
each repeat customer's *repeat* transactions (the first transaction day excluded); averaging
all transactions instead gives p = 14.3, q = 3.95, gamma = 7.29 on the same data.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from crmcli.core import clock
from crmcli.core.clock import to_iso
from crmcli.core.errors import InvalidInput, NotEnoughData, OperationalError
from crmcli.core.validate import money, parse_date
from crmcli.db import Database, order_stats
from crmcli.reports.model import RowStream

UNIT_DAYS = {"day": 1.0, "week": 7.0}
DAYS_PER_YEAR = 365.25
JDN_OFFSET = 1721425  # Julian day number of a date = date.toordinal() + JDN_OFFSET
SUMMARY_FIT_LIMIT = 20_000  # dashboard figures fit on at most this many customers


@dataclass
class ValueOptions:
    calibration_end: str | None = None  # a date; default: the as-of day
    time_unit: str = "week"
    horizon: float | None = None  # in time units; default one year
    discount: float = 0.10  # annual
    currency: str | None = None
    top: int | None = None

    def check(self) -> None:
        if self.time_unit not in UNIT_DAYS:
            raise InvalidInput(f"invalid --time-unit {self.time_unit!r}; choose day or week")
        if self.horizon is not None and self.horizon <= 0:
            raise InvalidInput("--horizon must be positive")
        if not 0 <= self.discount < 10:
            raise InvalidInput("--discount is an annual rate such as 0.1 (10%)")
        if self.top is not None and self.top < 0:
            raise InvalidInput("--top must not be negative")

    @property
    def unit_days(self) -> float:
        return UNIT_DAYS[self.time_unit]

    @property
    def horizon_units(self) -> float:
        if self.horizon is not None:
            return float(self.horizon)
        return DAYS_PER_YEAR / self.unit_days if self.time_unit == "day" else 52.0


def _local_midnight_utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=clock.local_zone()).astimezone(UTC)


def _julian(day: date) -> float:
    return float(day.toordinal() + JDN_OFFSET)


def main_currency(db: Database, until: str, wanted: str | None) -> str | None:
    if wanted:
        return wanted.strip().upper()
    return order_stats.most_used_currency(db, until)


@dataclass
class Summaries:
    """Per-customer BG/NBD inputs, as numpy arrays in the chosen time unit, and the RFM
    inputs of every customer with orders (`rfm_*`, any currency, orders up to `until`).
    `names` and `external_ids` (object arrays beside customer_id) when asked for."""

    customer_id: Any
    x: Any
    t_x: Any
    T: Any
    m_x: Any  # average repeat transaction value (currency units), 0 without repeats
    first_value: Any
    rfm_last: Any
    rfm_orders: Any
    rfm_monetary: Any
    names: Any = None
    external_ids: Any = None

    def rfm_segments(self) -> list[dict[str, Any]]:
        """Customers and revenue (minor units) per RFM segment, revenue descending."""
        from crmcli.analytics import rfm

        return rfm.segment_totals(self.rfm_last, self.rfm_orders, self.rfm_monetary)


ORDER_ROW = [("customer_id", "i8"), ("julianday", "f8"), ("amount", "i8")]


def _read_orders(db: Database, until_iso: str, currency: str) -> Any:
    """order_stats.customer_orders as one structured array (no Python object kept per order)."""
    import numpy as np

    try:
        return np.fromiter(
            order_stats.customer_orders(db, until_iso, currency), dtype=np.dtype(ORDER_ROW)
        )
    except TypeError as exc:  # julianday() is NULL only for a time that is not one
        raise OperationalError(f"an order's time is not a valid date ({exc})") from exc


def _per_customer(orders: Any, shift: float) -> dict[str, Any]:
    """The figures per customer from orders in customer and time order (_read_orders).

    Value model (orders with a positive julianday): transaction days are local calendar days
    (int(julianday + shift), as SQLite's CAST would), x = distinct days - 1 (-1: no such
    order), first and last day (0 without), the amount of all those orders and of the first
    day's (minor units). RFM (every order): julianday of the last order, order count and
    amount. Group boundaries and sums in numpy: no Python object per order or customer."""
    import numpy as np

    cid, signed, amount = orders["customer_id"], orders["julianday"], orders["amount"]
    n = cid.size
    starts = np.flatnonzero(np.concatenate(([n > 0], cid[1:] != cid[:-1])))
    customers = starts.size
    group = np.zeros(n, dtype=np.int64)
    group[starts[1:]] = 1
    np.cumsum(group, out=group)
    out: dict[str, Any] = {
        "customer_id": cid[starts],
        "rfm_orders": np.diff(np.append(starts, n)),
        "rfm_monetary": np.bincount(group, weights=amount, minlength=customers),
        "rfm_last": np.maximum.reduceat(np.abs(signed), starts) if n else np.zeros(0),
    }
    main = signed > 0
    g, amt = group[main], amount[main]
    day = (signed[main] + shift).astype(np.int64)  # truncation, as CAST(... AS INTEGER)
    same = g[1:] == g[:-1]
    if np.any(same & (day[1:] < day[:-1])):  # times not in day order (not the stored form)
        order = np.lexsort((day, g))
        g, amt, day = g[order], amt[order], day[order]
        same = g[1:] == g[:-1]
    head = [g.size > 0]  # the first main order starts a customer and a day
    new_day = np.concatenate((head, ~same | (day[1:] != day[:-1])))
    first = np.flatnonzero(np.concatenate((head, ~same)))
    last = np.append(first[1:] - 1, g.size - 1) if g.size else first
    first_day, last_day = np.zeros(customers), np.zeros(customers)
    first_day[g[first]] = day[first]
    last_day[g[last]] = day[last]
    on_first = day == first_day[g]
    out["x"] = np.bincount(g, weights=new_day, minlength=customers) - 1.0
    out["first_day"], out["last_day"] = first_day, last_day
    out["total_amount"] = np.bincount(g, weights=amt, minlength=customers)
    out["first_amount"] = np.bincount(g[on_first], weights=amt[on_first], minlength=customers)
    return out


def load_summaries(
    db: Database,
    until_iso: str,
    end_day: date,
    unit_days: float,
    currency: str,
    labels: bool = False,
) -> Summaries:
    """The Summaries of every customer with orders before `until_iso`; with `labels`, also
    the names and external ids of the modelled customers (read in id order: for a listing
    of them all, twice as fast as looking them up in CLV order)."""
    import numpy as np

    orders = _read_orders(db, until_iso, currency)
    col = _per_customer(orders, order_stats.day_shift(order_stats.local_day_modifier()))
    del orders
    ids = col["customer_id"]
    found: Any = None
    if labels:
        rows = list(order_stats.customer_labels_in_order(db, ids.tolist()))
        found = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        known = np.isin(ids, found, assume_unique=True)
    else:
        missing = order_stats.unknown_customers(db, until_iso)
        known = ~np.isin(ids, np.asarray(missing, dtype=np.int64))
    modelled = known & (col["x"] >= 0)
    end_j = _julian(end_day)
    x = col["x"][modelled]
    first = col["first_day"][modelled]
    last = col["last_day"][modelled]
    repeat_cents = col["total_amount"][modelled] - col["first_amount"][modelled]
    with np.errstate(invalid="ignore", divide="ignore"):
        m_x = np.where(x > 0, repeat_cents / 100.0 / np.maximum(x, 1.0), 0.0)
    s = Summaries(
        customer_id=ids[modelled],
        x=x,
        t_x=(last - first) / unit_days,
        T=np.maximum(end_j - first, 0.0) / unit_days,
        m_x=m_x,
        first_value=col["first_amount"][modelled] / 100.0,
        rfm_last=col["rfm_last"],
        rfm_orders=col["rfm_orders"],
        rfm_monetary=col["rfm_monetary"],
    )
    if labels:
        keep = np.isin(found, s.customer_id, assume_unique=True)
        s.names = np.array([r[1] for r in rows], dtype=object)[keep]
        s.external_ids = np.array([r[2] for r in rows], dtype=object)[keep]
    return s


def calibration_window(options: ValueOptions) -> tuple[date, str, datetime]:
    """(calibration end day, exclusive UTC bound for orders, now)."""
    now = clock.now()
    today = now.astimezone(clock.local_zone()).date()
    if options.calibration_end:
        end_day = parse_date(options.calibration_end, "--calibration-end")
        if end_day > today:
            raise InvalidInput("--calibration-end is after the as-of time; nothing is known then")
        bound = _local_midnight_utc(end_day + timedelta(days=1))
        return end_day, to_iso(bound), now
    return today, to_iso(now + timedelta(seconds=1)), now


def fit_models(s: Summaries) -> tuple[Any, Any]:
    from crmcli.analytics import clv

    purchases = clv.fit_bgnbd(s.x, s.t_x, s.T)
    spend = clv.fit_gamma_gamma(s.x[s.x > 0], s.m_x[s.x > 0])
    return purchases, spend


def value_report(db: Database, options: ValueOptions) -> dict[str, Any]:
    """The whole value report: model parameters, per-customer CLV, RFM segments, holdout."""
    import numpy as np

    from crmcli.analytics import clv, rfm

    options.check()
    end_day, until, now = calibration_window(options)
    currency = main_currency(db, until, options.currency)
    if currency is None:
        raise NotEnoughData("no orders before the calibration end: nothing to model")
    # Names read with the summaries when many customers are listed (id order), else per
    # chunk of the listing.
    many = options.top is None or options.top > LABELS_WITH_SUMMARIES
    s = load_summaries(db, until, end_day, options.unit_days, currency, labels=many)
    if s.x.size == 0:
        raise NotEnoughData(f"no {currency} orders before the calibration end")
    purchases, spend = fit_models(s)
    horizon = options.horizon_units
    alive = clv.p_alive(purchases, s.x, s.t_x, s.T)
    expected = clv.expected_purchases(purchases, horizon, s.x, s.t_x, s.T)
    avg_spend = clv.expected_average_spend(spend, s.x, s.m_x)
    value = clv.lifetime_value(
        purchases,
        avg_spend,
        s.x,
        s.t_x,
        s.T,
        horizon,
        DAYS_PER_YEAR / options.unit_days,
        options.discount,
    )
    order = np.argsort(-value, kind="stable")
    if options.top:
        order = order[: options.top]
    columns = {
        "frequency": s.x.astype(np.int64),
        "recency": rounded(s.t_x, 4),
        "T": rounded(s.T, 4),
        "monetary_value": rounded(s.m_x, 2),
        "p_alive": rounded(alive, 4),
        "expected_purchases": rounded(expected, 4),
        "expected_spend": rounded(avg_spend, 2),
        "clv": rounded(value, 2),
    }
    customers = RowStream(
        len(order),
        lambda: _customer_rows(db, s, order, columns),
        CUSTOMER_COLUMNS,
        flat=True,
    )
    rfm_rows = [r | {"revenue": money(r["revenue"])} for r in s.rfm_segments()]
    report: dict[str, Any] = {
        "settings": {
            "calibration_end": end_day.isoformat(),
            "time_unit": options.time_unit,
            "horizon": horizon,
            "discount": options.discount,
            "currency": currency,
            "customers": int(s.x.size),
            "customers_listed": len(order),
            "repeat_customers": int(np.sum(s.x > 0)),
            "expected_purchases_total": round(float(np.sum(expected)), 2),
            "clv_total": round(float(np.sum(value)), 2),
            "clv_average": round(float(np.mean(value)), 2),
            "spend_model_basis": "average value of repeat transactions (first day excluded)",
        },
        "model": {
            "r": purchases.r,
            "alpha": purchases.alpha,
            "a": purchases.a,
            "b": purchases.b,
            "log_likelihood": purchases.log_likelihood,
        },
        "spend_model": {
            "p": spend.p,
            "q": spend.q,
            "gamma": spend.gamma,
            "log_likelihood": spend.log_likelihood,
            "customers": spend.customers,
            "population_mean_spend": spend.population_mean(),
        },
        "rfm_segments": rfm.summarise_segments(rfm_rows),
    }
    holdout = holdout_check(db, options, s, purchases, until, now, currency)
    if holdout is not None:
        report["holdout"], report["holdout_by_frequency"] = holdout
    report["customers"] = customers
    return report


def rounded(values: Any, digits: int) -> Any:
    """Python's round(v, digits) over an array: numpy rounds the scaled value, which differs
    from Python's exact rounding only next to a half (642.035 is 642.0349... in binary:
    Python gives 642.03, numpy 642.04); those few are rounded by Python."""
    import numpy as np

    out = np.round(values, digits)
    scaled = np.abs(values) * 10.0**digits
    near_half = np.flatnonzero(np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6)
    for i in near_half.tolist():
        out[i] = round(float(values[i]), digits)
    return out


CUSTOMER_COLUMNS = (
    "customer_id",
    "name",
    "external_id",
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "p_alive",
    "expected_purchases",
    "expected_spend",
    "clv",
)
ROW_CHUNK = 2_000  # customers named per query while the listing is written
LABELS_WITH_SUMMARIES = 20_000  # listing more customers: names read in id order up front


def _customer_rows(
    db: Database, s: Summaries, order: Any, columns: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """The per-customer listing in `order`, a chunk at a time from the arrays: names and
    external ids come from the summaries (read in id order) or are looked up per chunk, so
    memory stays bounded however many customers are listed."""
    figures = [columns[name] for name in CUSTOMER_COLUMNS[3:]]
    for start in range(0, len(order), ROW_CHUNK):
        idx = order[start : start + ROW_CHUNK]
        ids = s.customer_id[idx].tolist()
        if s.names is not None:
            names, external_ids = s.names[idx].tolist(), s.external_ids[idx].tolist()
        else:
            labels = order_stats.customer_labels(db, ids)
            names = [labels.get(c, (None, None))[0] for c in ids]
            external_ids = [labels.get(c, (None, None))[1] for c in ids]
        values = [column[idx].tolist() for column in figures]
        # The keys of CUSTOMER_COLUMNS, written out: a dict display is the fastest row.
        for cid, name, ext, f, r, t, m, alive, ep, es, clv in zip(
            ids, names, external_ids, *values, strict=True
        ):
            yield {
                "customer_id": cid,
                "name": name,
                "external_id": ext,
                "frequency": f,
                "recency": r,
                "T": t,
                "monetary_value": m,
                "p_alive": alive,
                "expected_purchases": ep,
                "expected_spend": es,
                "clv": clv,
            }


def holdout_check(
    db: Database,
    options: ValueOptions,
    s: Summaries,
    purchases: Any,
    until: str,
    now: datetime,
    currency: str,
) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """Predicted vs actual repeat transactions after the calibration end (when known)."""
    import numpy as np

    from crmcli.analytics import clv

    if not options.calibration_end:
        return None
    start = datetime.fromisoformat(until.replace("Z", "+00:00"))
    horizon_end = start + timedelta(days=options.horizon_units * options.unit_days)
    stop = min(now, horizon_end)
    if stop <= start:
        return None
    length = (stop - start).total_seconds() / 86400 / options.unit_days
    actual_map = order_stats.holdout_transactions(
        db, until, to_iso(stop), currency, order_stats.local_day_modifier()
    )
    actual = np.array([actual_map.get(int(c), 0) for c in s.customer_id], dtype=np.float64)
    predicted = clv.expected_purchases(purchases, length, s.x, s.t_x, s.T)
    total_actual, total_pred = float(actual.sum()), float(predicted.sum())
    summary = {
        "from_at": until,
        "to_at": to_iso(stop),
        # The as-of time cuts the holdout short of the horizon: the prediction covers the
        # same shorter span (`length`), and the comparison says it is partial.
        "partial": stop < horizon_end,
        "horizon_end_at": to_iso(horizon_end),
        "length": round(length, 4),
        "customers": int(s.x.size),
        "actual_transactions": int(total_actual),
        "predicted_transactions": round(total_pred, 2),
        "error_pct": round((total_pred - total_actual) / total_actual * 100, 2)
        if total_actual
        else None,
        "mean_absolute_error": round(float(np.mean(np.abs(predicted - actual))), 4),
        "correlation": round(float(np.corrcoef(predicted, actual)[0, 1]), 4)
        if actual.std() > 0 and predicted.std() > 0
        else None,
    }
    by_freq = []
    top = 7
    for k in range(top + 1):
        mask = s.x >= k if k == top else s.x == k
        if not mask.any():
            continue
        by_freq.append(
            {
                "frequency": f"{k}+" if k == top else str(k),
                "customers": int(mask.sum()),
                "actual_mean": round(float(actual[mask].mean()), 4),
                "predicted_mean": round(float(predicted[mask].mean()), 4),
            }
        )
    return summary, by_freq


# ------------------------------------------------------------------ dashboard figures

_MODEL_CACHE: dict[tuple[Any, ...], dict[str, Any]] = {}


def _period_figures(db: Database, since: datetime, until: datetime) -> dict[str, Any]:
    totals = order_stats.order_totals(db, to_iso(since), to_iso(until))
    main = totals["by_currency"][0] if totals["by_currency"] else None
    return {
        "revenue": money(main["amount"]) if main else 0.0,
        "currency": main["currency"] if main else None,
        "orders": int(sum(r["orders"] for r in totals["by_currency"])),
        "customers_with_orders": totals["customers"],
    }


def model_figures(db: Database, now: datetime) -> dict[str, Any]:
    """CLV, P(alive) per customer from a fit on at most SUMMARY_FIT_LIMIT customers (a fixed
    random sample beyond that), memoised per database state for the dashboard."""
    import numpy as np

    from crmcli.analytics import clv

    options = ValueOptions()
    today = now.astimezone(clock.local_zone()).date()
    until = to_iso(now + timedelta(seconds=1))
    currency = main_currency(db, until, None)
    if currency is None:
        return {"customers": 0}
    state = db.query_one("SELECT count(*) AS n, max(id) AS last, max(updated_at) AS u FROM orders")
    key = (str(db.path), until, currency, tuple((state or {}).values()))
    if key in _MODEL_CACHE:
        return _MODEL_CACHE[key]
    s = load_summaries(db, until, today, options.unit_days, currency)
    out: dict[str, Any] = {
        "customers": int(s.x.size),
        "currency": currency,
        "rfm_segments": s.rfm_segments(),
    }
    fit_idx = np.arange(s.x.size)
    if s.x.size > SUMMARY_FIT_LIMIT:
        fit_idx = np.sort(
            np.random.default_rng(0).choice(s.x.size, SUMMARY_FIT_LIMIT, replace=False)
        )
    try:
        purchases = clv.fit_bgnbd(s.x[fit_idx], s.t_x[fit_idx], s.T[fit_idx])
        rep = fit_idx[s.x[fit_idx] > 0]
        spend = clv.fit_gamma_gamma(s.x[rep], s.m_x[rep])
    except (NotEnoughData, OperationalError) as exc:
        out["model_error"] = exc.message
        _MODEL_CACHE[key] = out
        return out
    avg_spend = clv.expected_average_spend(spend, s.x, s.m_x)
    value = clv.lifetime_value(
        purchases, avg_spend, s.x, s.t_x, s.T, 52.0, DAYS_PER_YEAR / 7, options.discount, steps=12
    )
    out |= {
        "p_alive": clv.p_alive(purchases, s.x, s.t_x, s.T),
        "clv": value,
        "customer_id": s.customer_id,
        "x": s.x,
        "historic_value": s.first_value + s.m_x * s.x,
    }
    _MODEL_CACHE.clear()
    _MODEL_CACHE[key] = out
    return out


def value_summary(db: Database, as_of: datetime | None = None) -> dict[str, Any]:
    """Key value figures for the dashboard, for the 30 days up to `as_of` (default now) and
    the 30 days before: revenue (main currency), orders, customers_with_orders, plus
    average_clv (one-year, 10% discount, BG/NBD + Gamma-Gamma; None when the model cannot be
    fitted) and top_segment (the RFM segment with the most revenue)."""
    import numpy as np

    now = (as_of or clock.now()).astimezone(UTC)
    current = _period_figures(db, now - timedelta(days=30), now + timedelta(seconds=1))
    previous = _period_figures(db, now - timedelta(days=60), now - timedelta(days=30))
    figures = model_figures(db, now)
    segments = figures.get("rfm_segments", [])
    top = max(segments, key=lambda r: r["revenue"]) if segments else None
    average_clv = (
        round(float(np.mean(figures["clv"])), 2)
        if "clv" in figures and figures["clv"].size
        else None
    )
    return {
        "period_days": 30,
        "revenue": current["revenue"],
        "currency": current["currency"] or figures.get("currency"),
        "orders": current["orders"],
        "customers_with_orders": current["customers_with_orders"],
        "previous_revenue": previous["revenue"],
        "previous_orders": previous["orders"],
        "previous_customers_with_orders": previous["customers_with_orders"],
        "average_clv": average_clv,
        "top_segment": top["segment"] if top else None,
        "top_segment_revenue": money(top["revenue"]) if top else None,
    }


# ------------------------------------------------------------------ campaign suggestions


def suggest_report(db: Database, segment: str, channel: str, top: int) -> dict[str, Any]:
    """Rank a segment's customers by the response model's predicted probability."""
    from crmcli.analytics.response import fit_response_model, score_candidates
    from crmcli.analytics.verdict import auc_verdict
    from crmcli.db import campaigns as campaign_repo
    from crmcli.db.segments import compile_segment

    where, params = compile_segment(segment, db=db)
    history = campaign_repo.response_history(db)
    history_tags = campaign_repo.tags_of(db, sorted({int(r["customer_id"]) for r in history}))
    model = fit_response_model(history, history_tags)
    candidates = campaign_repo.candidate_features(db, where, params, to_iso(clock.now()))
    tags = campaign_repo.tags_of(db, [int(c["customer_id"]) for c in candidates])
    scores = score_candidates(model, candidates, tags, channel)
    ranked = sorted(
        zip(scores, candidates, strict=True), key=lambda p: (-p[0], p[1]["customer_id"])
    )
    return {
        "verdict": auc_verdict(model.cv_auc).as_dict(),
        "model": {
            "cv_auc": round(model.cv_auc, 4),
            "cv_auc_std": round(model.cv_auc_std, 4),
            "folds": model.folds,
            "training_rows": model.rows,
            "training_responses": model.responses,
            "base_rate": round(model.responses / model.rows, 4),
            "channel": channel,
            "segment": segment,
            "candidates": len(candidates),
        },
        "customers": [
            {
                "customer_id": c["customer_id"],
                "name": c["name"],
                "score": round(p, 4),
                "orders": c["orders"],
                "spend": money(c["spend"]),
                "recency_days": None
                if c["recency_days"] is None
                else round(float(c["recency_days"]), 1),
                "past_campaigns": c["past_campaigns"],
                "past_responses": c["past_successes"],
            }
            for p, c in ranked[:top]
        ],
        "coefficients": model.coefficients[:15],
    }
