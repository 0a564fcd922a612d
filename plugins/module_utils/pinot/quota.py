# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Databases and query quotas (Pinot 1.3+): a database's queries-per-second limit, an application's, and the
deletion of a database's tables.

What the controller does (measured on 1.4.0 and 1.5.1):

* A database is implicit: `GET /databases` lists the prefixes of the table names (`db.table`; `default` for tables
  without one). Its quota is a record of its own in ZooKeeper, written by `POST /databases/{db}/quotas`
  (`maxQueriesPerSecond`, stored as Java prints a double: `"100.0"`, `"1.0E7"`). The request must carry the header
  `database: {db}` (400 otherwise). A POST without a value leaves the record with no quota (`{}`); nothing
  removes the record. `GET` answers the record's quota or, when there is no record, the cluster-wide default
  `databaseMaxQueriesPerSecond` (so a quota equal to the default cannot be told from none: both limit the same).
* `DELETE /databases/{db}` deletes every table of the database with its schema; `dryRun` defaults to *false*
  despite the API documentation. It leaves the quota record and the schemas no table uses.
* Application quotas live in one record, `GET /applicationQuotas` lists the set ones; `POST
  /applicationQuotas/{app}` sets one (`maxQueriesPerSecond`) or, without a value, removes it. The controller
  takes any double there (0, negative, NaN, Infinity); the module refuses what is not a positive finite number.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import quote

from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PinotClient, PinotError, older_than
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.reconcile import Handler

RATE = "max_queries_per_second"  # the option, as errors name it
QPS = "maxQueriesPerSecond"  # Pinot's key
DATABASE_HEADER = "database"  # the request header that names the database a request is about
DEFAULT_DATABASE = "default"  # the database of the tables without a prefix
DATABASE_DEFAULT_KEY = "databaseMaxQueriesPerSecond"  # cluster configs: the limit of a database without a quota
APPLICATION_DEFAULT_KEY = "applicationMaxQueriesPerSecond"
QUOTAS_SINCE = (1, 3)  # /databases/{db}/quotas and /applicationQuotas


def require_quotas(client: PinotClient) -> None:
    """Refuse, naming the version, a controller older than the quota APIs (an unknown version is let through)."""
    version = client.pinot_version()
    if older_than(version, QUOTAS_SINCE):
        raise SpecError(None, f"database and application query quotas need Pinot "
                        f"{'.'.join(map(str, QUOTAS_SINCE))} or later; this controller runs Pinot {version}")


def parse_rate(value: Any, field: str = RATE) -> float | None:
    """A queries-per-second limit: a positive finite number (an int, a float or a numeric string); None stays None."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise SpecError(field, f"must be a number of queries per second greater than 0, not {value}")
    try:
        rate = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise SpecError(field, f"must be a number of queries per second greater than 0, not '{value}'") from None
    if not math.isfinite(rate) or rate <= 0:
        raise SpecError(field, f"must be a number of queries per second greater than 0, not {value}")
    return rate


def rate_text(rate: float) -> str:
    """The query parameter: `100` rather than `100.0` (Pinot parses either)."""
    return str(int(rate)) if rate.is_integer() and abs(rate) < 1e15 else repr(rate)


def stored_rate(value: Any) -> float | None:
    """A rate as Pinot returns it (`"100.0"`, `"1.0E7"`, `50.0`, `"NaN"`), as a float; None when unset."""
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan  # unreadable: never equal to a request, so the module writes its own


def cluster_default(client: PinotClient, key: str) -> float | None:
    """The cluster-wide default limit `key` (a cluster config), read once per run."""
    configs = client.get_once("/cluster/configs") or {}
    return stored_rate(configs.get(key)) if isinstance(configs, dict) else None


def _check_name(name: Any, field: str, what: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise SpecError(field, f"must name the {what}")
    if "/" in name or name != name.strip():
        raise SpecError(field, f"'{name}' is not a {what} name (no '/', no leading or trailing spaces)")
    return name


class DatabaseHandler(Handler):
    """A database's own query quota; with state absent also its tables and schemas (only when told to)."""

    kind = "database"

    def __init__(self, client, name, *, state="present", delete_tables=False, check_mode=False):
        super().__init__(client, name, check_mode)
        self.state = state
        self.delete_tables = delete_tables
        self.headers = {DATABASE_HEADER: name}
        self.path = "/databases/" + quote(name, safe="")

    def _own_rate(self, rate):
        """The database's own limit: none when it equals the cluster-wide default (Pinot answers the default
        for a database without a quota, so the two cannot be told apart; both limit the database the same)."""
        return None if rate is None or rate == cluster_default(self.client, DATABASE_DEFAULT_KEY) else rate

    def contents(self):
        """The database's tables (raw names) and schemas."""
        tables = (self.client.get("/tables", headers=self.headers) or {}).get("tables") or []
        schemas = self.client.get("/schemas", headers=self.headers) or []
        return sorted(tables), sorted(schemas)

    def read(self):
        require_quotas(self.client)
        quota = self.client.get(self.path + "/quotas", headers=self.headers) or {}
        found = {"databaseName": self.name}
        rate = stored_rate(quota.get(QPS)) if isinstance(quota, dict) else None
        if rate is not None:
            found[QPS] = rate
        if self.state != "absent":
            return found  # a database without tables or a quota is there all the same: nothing to create
        tables, schemas = self.contents()
        if tables:
            found["tables"] = tables
        if schemas:
            found["schemas"] = schemas
        return found if tables or schemas or self._own_rate(rate) is not None else None

    def normalise(self, obj):
        result = dict(obj)
        if self._own_rate(result.get(QPS)) is None:
            result.pop(QPS, None)
        return result

    def _write_quota(self, rate):
        self.client.post(self.path + "/quotas", params={QPS: rate_text(rate)} if rate is not None else None,
                         headers=self.headers)

    def create(self, desired):
        self._write_quota(desired.get(QPS))

    def update(self, desired, live):
        self._write_quota(desired.get(QPS))

    def validate_delete(self, live):
        tables, schemas = live.get("tables") or [], live.get("schemas") or []
        if (tables or schemas) and not self.delete_tables:
            held = " and ".join(part for part in (tables and f"tables {', '.join(tables)}",
                                                  schemas and f"schemas {', '.join(schemas)}") if part)
            raise SpecError("delete_tables", f"database '{self.name}' still has {held}; set delete_tables=true to "
                            "delete them with the database, or delete them first")

    def delete(self, live):
        if live.get("tables"):
            # dryRun must be sent: left out, Pinot deletes (its documented default of true is not applied).
            outcome = self.client.delete(self.path, params={"dryRun": "false"}) or {}
            failed = outcome.get("failedTables") or []
            if failed:
                raise PinotError("DELETE", self.path, reason="Pinot could not delete " + "; ".join(
                    f"{item.get('tableName')}: {item.get('errorMessage')}" for item in failed))
        if live.get("schemas"):
            # What DELETE /databases leaves: the schemas no table used. Read again, it deleted the tables' own.
            for schema in self.contents()[1]:
                self.client.delete("/schemas/" + quote(schema, safe=""))
        if self._own_rate(live.get(QPS)) is not None:
            self._write_quota(None)


class ApplicationQuotaHandler(Handler):
    """The query quota of one application (the `applicationName` query option)."""

    kind = "application_quota"

    def __init__(self, client, name, check_mode=False):
        super().__init__(client, name, check_mode)
        self.path = "/applicationQuotas/" + quote(name, safe="")

    def read(self):
        require_quotas(self.client)
        # The listing holds the set quotas only; GET /applicationQuotas/{app} answers the cluster default for others.
        quotas = self.client.get("/applicationQuotas") or {}
        rate = stored_rate(quotas.get(self.name)) if isinstance(quotas, dict) else None
        return None if rate is None else {"applicationName": self.name, QPS: rate}

    def _write(self, rate):
        self.client.post(self.path, params={QPS: rate_text(rate)} if rate is not None else None)

    def create(self, desired):
        self._write(desired[QPS])

    def update(self, desired, live):
        self._write(desired[QPS])

    def delete(self, live):
        self._write(None)  # Pinot's removal: the quota set to nothing


def build_database(client: PinotClient, params: dict[str, Any],
                   check_mode: bool) -> tuple[DatabaseHandler, dict[str, Any]]:
    name = _check_name(params.get("name"), "name", "database")
    if "." in name:
        raise SpecError("name", f"'{name}' is not a database name (a table's name is 'database.table': no '.')")
    rate = parse_rate(params.get(RATE))
    state = params.get("state") or "present"
    delete_tables = bool(params.get("delete_tables")) and state == "absent"
    if delete_tables and name.lower() == DEFAULT_DATABASE:
        raise SpecError("delete_tables", "the default database holds every table without a database prefix; "
                        "delete those tables one by one (pinot_table) instead")
    if state == "absent" and rate is not None:
        raise SpecError(RATE, "cannot be combined with state=absent (absent removes the quota)")
    desired = {"databaseName": name}
    if rate is not None:
        desired[QPS] = rate
    return DatabaseHandler(client, name, state=state, delete_tables=delete_tables, check_mode=check_mode), desired


def build_application(client: PinotClient, params: dict[str, Any],
                      check_mode: bool) -> tuple[ApplicationQuotaHandler, dict[str, Any] | None]:
    name = _check_name(params.get("name"), "name", "application")
    rate = parse_rate(params.get(RATE))
    state = params.get("state") or "present"
    if state == "absent":
        if rate is not None:
            raise SpecError(RATE, "cannot be combined with state=absent (absent removes the quota)")
        return ApplicationQuotaHandler(client, name, check_mode), None
    if rate is None:
        raise SpecError(RATE, f"is required to set the quota of application '{name}' (state=absent removes it)")
    return ApplicationQuotaHandler(client, name, check_mode), {"applicationName": name, QPS: rate}


def read_info(client: PinotClient, params: dict[str, Any]) -> dict[str, Any]:
    """The named database and/or application, or every database (with tables) and every application quota; and
    the cluster-wide defaults that apply where neither has a quota of its own."""
    require_quotas(client)
    database, application = params.get("database"), params.get("application")
    everything = not database and not application
    if database:
        _check_name(database, "database", "database")
    names = [database] if database else sorted(client.get("/databases") or []) if everything else []
    databases = []
    for name in names:
        handler = DatabaseHandler(client, name)
        quota = client.get(handler.path + "/quotas", headers=handler.headers) or {}
        tables, schemas = handler.contents()
        databases.append({"databaseName": name, QPS: handler._own_rate(stored_rate(quota.get(QPS))),
                          "tables": tables, "schemas": schemas})
    applications = {}
    if everything or application:
        quotas = client.get("/applicationQuotas") or {}
        if application:  # null when it has no quota of its own
            applications = {_check_name(application, "application", "application"): stored_rate(
                quotas.get(application))}
        else:
            applications = {name: stored_rate(rate) for name, rate in sorted(quotas.items())}
    return {"databases": databases, "applications": applications,
            "defaults": {DATABASE_DEFAULT_KEY: cluster_default(client, DATABASE_DEFAULT_KEY),
                         APPLICATION_DEFAULT_KEY: cluster_default(client, APPLICATION_DEFAULT_KEY)}}
