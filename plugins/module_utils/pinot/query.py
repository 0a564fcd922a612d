# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SQL queries: sent through the controller (which relays them to a broker of the table) or to a broker directly,
answered as column names, rows and the broker's statistics. A query only reads: nothing is ever changed.

Pinot answers a query it could not run with HTTP 200 and a list of `exceptions` ({errorCode, message}); a
result that some servers did not contribute to says so in its statistics. Both are failures here unless the task
accepts a partial result.
"""

from __future__ import annotations

import re
from typing import Any

from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import (
    PINOT_CONNECTION_ARGS,
    PinotClient,
    PinotError,
)

CONTROLLER_PATH = "/sql"  # the controller picks a broker of the queried table and relays the query to it
BROKER_PATH = "/query/sql"
# Pinot reads queryOptions as `key=value;key=value` (split on ';' then on '='): neither may appear in a key or value.
OPTION_SEPARATORS = (";", "=")
# Leading comments, and the `SET key = value;` statements that set query options inside the SQL.
_LEADING = re.compile(r"\A(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?\*/|SET\s[^;]*;)*", re.IGNORECASE | re.DOTALL)
# Pinot's only data-changing statement (its DML): both endpoints run it, as a minion task that writes segments.
_WRITES = re.compile(r"INSERT\b", re.IGNORECASE)
# Seconds added to the query's own timeoutMs for the HTTP wait, so that Pinot's timeout answers first.
HTTP_MARGIN = 5.0


class QueryFailed(PinotError):
    """A query Pinot answered with exceptions, or with a partial result the task does not accept; Pinot's
    `exceptions` go into the failure report (the message names the servers that did not respond)."""

    def __init__(self, path: str, reason: str, exceptions: list[dict[str, Any]]) -> None:
        super().__init__("POST", path, reason=reason)
        self.extra_result = {"exceptions": exceptions}


def check_sql(sql: Any) -> str:
    """The statement to send; SpecError('sql') when it is empty or would write."""
    if not isinstance(sql, str) or not sql.strip():
        raise SpecError("sql", "is empty: give the SQL statement to run")
    statement = sql[_LEADING.match(sql).end():]
    if _WRITES.match(statement):
        raise SpecError("sql", "is an INSERT, which writes (Pinot runs it as a segment-building task); "
                               "pinot_query only reads, so it sends SELECT-like statements only")
    return sql.strip()


def options_string(options: Any) -> str | None:
    """`query_options` as Pinot's queryOptions string (`timeoutMs=1000;useMultistageEngine=true`), or None."""
    if not options:
        return None
    if not isinstance(options, dict):
        raise SpecError("query_options", f"must be a mapping of option names to values, not {type(options).__name__}")
    parts = []
    for key, value in options.items():
        field = f"query_options.{key}"
        if not isinstance(key, str) or not key.strip() or any(sep in key for sep in OPTION_SEPARATORS):
            raise SpecError(field, "is not an option name (a non-empty name without ';' or '=')")
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, (int, float, str)):
            text = str(value).strip()
        else:
            what = "null" if value is None else type(value).__name__
            raise SpecError(field, f"must be a string, number or boolean, not {what}")
        if not text or any(sep in text for sep in OPTION_SEPARATORS):
            raise SpecError(field, f"value {text!r} cannot be sent: it is empty or holds ';' or '='")
        parts.append(f"{key.strip()}={text}")
    return ";".join(parts)


def http_timeout(params: dict[str, Any]) -> float:
    """Seconds to wait for the answer: the connection's `timeout`, or longer when the query allows itself more.
    A timeoutMs that is not a number is left for Pinot to refuse (HTTP 500 naming timeoutMs, on 1.4 and 1.5)."""
    base = float(params.get("timeout") or 30.0)
    asked = (params.get("query_options") or {}).get("timeoutMs")
    try:
        return max(base, float(asked) / 1000.0 + HTTP_MARGIN)
    except (TypeError, ValueError):
        return base


def broker_client(params: dict[str, Any]) -> PinotClient:
    """A client for `broker_url`, with the connection's credentials and TLS settings (the controller forwards the
    same headers when it relays a query)."""
    settings = {key: params.get(key) for key in PINOT_CONNECTION_ARGS if key != "controller_url"}
    client = PinotClient(params["broker_url"], **settings)
    client.component = "broker"
    return client


def _problems(response: dict[str, Any]) -> list[str]:
    """What makes an answer partial, in words: Pinot's exceptions, servers that did not answer, partialResult."""
    found = [f"error {item.get('errorCode')}: {str(item.get('message', '')).strip()}"
             for item in response.get("exceptions") or []]
    queried, responded = response.get("numServersQueried"), response.get("numServersResponded")
    if isinstance(queried, int) and isinstance(responded, int) and responded < queried:
        found.append(f"{responded} of {queried} servers responded")
    if response.get("partialResult") is True and not found:
        found.append("Pinot marked the result partial (partialResult)")
    return found


def stats_of(response: dict[str, Any]) -> dict[str, Any]:
    """Every statistic of the answer as the broker gives it: its scalar fields (numDocsScanned, totalDocs,
    timeUsedMs, numServersQueried, ...); the result table, the exceptions and nested details are left out."""
    return {key: value for key, value in response.items()
            if isinstance(value, (str, int, float, bool)) and key not in ("resultTable", "exceptions")}


def answer(response: Any, path: str, fail_on_partial: bool) -> dict[str, Any]:
    """The module's result from Pinot's answer; QueryFailed when Pinot could not run the query, or when the
    answer is partial and `fail_on_partial`."""
    if not isinstance(response, dict):
        raise PinotError("POST", path, reason=f"the answer is not a query response: {str(response)[:500]!r}")
    exceptions = [{"errorCode": item.get("errorCode"), "message": item.get("message")}
                  for item in response.get("exceptions") or [] if isinstance(item, dict)]
    problems = _problems(response)
    table = response.get("resultTable")
    if problems and (fail_on_partial or not isinstance(table, dict)):
        what = "Pinot could not run the query" if not isinstance(table, dict) else "the result is partial"
        raise QueryFailed(path, f"{what}: " + "; ".join(problems), exceptions)
    schema = (table or {}).get("dataSchema") or {}
    columns = list(schema.get("columnNames") or [])
    rows = [list(row) for row in (table or {}).get("rows") or []]
    warnings = [f"partial result accepted (fail_on_partial=false): {'; '.join(problems)}"] if problems else []
    if len(set(columns)) < len(columns):
        warnings.append(f"columns {columns} repeat a name: in records, the last column of a name wins; rows has all")
    return dict(
        changed=False,
        columns=columns,
        column_types=list(schema.get("columnDataTypes") or []),
        rows=rows,
        records=[dict(zip(columns, row, strict=False)) for row in rows],
        num_rows=len(rows),
        partial=bool(problems),
        exceptions=exceptions,
        stats=stats_of(response),
        warnings=warnings,
    )


def apply(client: PinotClient, params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    """pinot_query: run the SQL through the controller, or through `broker_url`; the same in check mode (a read)."""
    body = {"sql": check_sql(params.get("sql"))}
    options = options_string(params.get("query_options"))
    if options:
        body["queryOptions"] = options
    timeout = http_timeout(params)
    if params.get("broker_url"):
        client, path = broker_client(params), BROKER_PATH
    else:
        path = CONTROLLER_PATH
    client.timeout = timeout
    response = client.request("POST", path, body=body, read_only=True)
    result = answer(response, path, params.get("fail_on_partial", True))
    result["via"] = client.component
    result["diff"] = None
    return result
