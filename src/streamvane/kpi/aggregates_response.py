"""Render interval accumulators in the shape of Genesys' conversation aggregates query response.

``{"results":[{"group":{"queueId":…,"mediaType":…},"data":[{"interval":"…Z/…Z","metrics":[
{"metric":"tAnswered","stats":{"max":…,"min":…,"count":…,"sum":…}}]}]}]}``: groups ascending by
(queueId, mediaType), intervals ascending, metrics in Genesys' alphabetical order. t-metrics carry
count/sum/min/max (ms), n-metrics count, oServiceLevel ratio/numerator/denominator/target. As in
Genesys, a metric with no data has no row and an interval with no metric is left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import groupby
from typing import Any

from streamvane.kpi import metrics as m
from streamvane.kpi.accumulator import IntervalAccumulator
from streamvane.kpi.aggregate import CellKey
from streamvane.kpi.config import KpiConfig
from streamvane.kpi.intervals import IntervalGrid, format_interval
from streamvane.kpi.service_level import service_level, with_service_level


def metric_rows(acc: IntervalAccumulator, config: KpiConfig, sl_target: float) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    snapshot = with_service_level(acc.snapshot(), config.service_level_rule)
    for name in m.OUTPUT_ORDER:
        if name == m.O_SERVICE_LEVEL:
            sl = service_level(snapshot, sl_target)
            if sl is not None:
                stats = {
                    "ratio": sl.ratio,
                    "numerator": sl.numerator,
                    "denominator": sl.denominator,
                    "target": sl.target,
                }
                rows.append({"metric": name, "stats": stats})
            continue
        stat = snapshot.get(name)
        if stat is None:
            continue
        count, total, low, high = stat
        if name in m.COUNT_METRICS:
            rows.append({"metric": name, "stats": {"count": count}})
        else:
            rows.append({"metric": name, "stats": {"max": high, "min": low, "count": count, "sum": total}})
    return rows


def aggregates_response(
    cells: Mapping[CellKey, IntervalAccumulator], grid: IntervalGrid, config: KpiConfig
) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    for (queue, media), group in groupby(sorted(cells.items()), key=lambda item: item[0][:2]):
        target = config.service_level_for(queue, media).percentage
        data = []
        for (_, _, start), acc in group:
            rows = metric_rows(acc, config, target)
            if rows:
                data.append({"interval": format_interval(start, grid.next_start(start)), "metrics": rows})
        if data:
            results.append({"group": {"queueId": queue, "mediaType": media}, "data": data})
    return {"results": results}
