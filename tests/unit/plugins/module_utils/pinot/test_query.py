"""pinot_query: the SQL and query options checked before anything is sent, Pinot's answer turned into rows and
records or into a failure naming its error codes, and the module run in-process against two scripted HTTP servers
(a controller and a broker) on loopback. The real servers are in tests/integration/test_pinot_query.py."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.pinotops.k8s.plugins.module_utils.common import SpecError
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot import query
from ansible_collections.pinotops.k8s.plugins.module_utils.pinot.client import PinotError
from tests.support.modules import run_module

# Pinot 1.5.1's answer to `SELECT id, city FROM t ORDER BY id` (trimmed to some of its statistics).
ANSWER = {
    "resultTable": {"dataSchema": {"columnNames": ["id", "city"], "columnDataTypes": ["STRING", "STRING"]},
                    "rows": [["a", "paris"], ["b", "rome"]]},
    "numRowsResultSet": 2, "partialResult": False, "exceptions": [], "timeUsedMs": 9, "requestId": "16379",
    "clientRequestId": None, "brokerId": "Broker_127.0.0.1_8099", "numDocsScanned": 2, "totalDocs": 2,
    "numServersQueried": 1, "numServersResponded": 1, "numSegmentsQueried": 1, "traceInfo": {},
    "tablesQueried": ["t"], "pools": [-1],
}
# ... and to SQL it cannot parse: HTTP 200, no result table, the exception.
PARSE_ERROR = {
    "resultTable": None, "partialResult": True, "numServersQueried": 0, "numServersResponded": 0,
    "exceptions": [{"errorCode": 150, "message": "SQLParsingError: Caught exception while parsing query: SELEC"}],
}


# --- input checked before anything is sent ---------------------------------------------------------------------

@pytest.mark.parametrize("sql", ["", "   \n", None])
def test_an_empty_statement_names_sql(sql):
    with pytest.raises(SpecError) as raised:
        query.check_sql(sql)
    assert raised.value.field == "sql"


@pytest.mark.parametrize("sql", [
    "INSERT INTO t FROM FILE 's3://bucket/rows/'",
    "  insert into t FROM FILE 'x'",
    "-- load them\n/* twice */ SET taskName = 'x'; SET a=1;INSERT INTO t FROM FILE 'x'",
])
def test_an_insert_is_refused_as_a_write(sql):
    with pytest.raises(SpecError, match="INSERT, which writes") as raised:
        query.check_sql(sql)
    assert raised.value.field == "sql"


@pytest.mark.parametrize("sql", [
    "SELECT COUNT(*) FROM t",
    "SET useMultistageEngine = true; SELECT a.id FROM t a JOIN t b ON a.id = b.id",
    "EXPLAIN PLAN FOR SELECT id FROM t",
    "SELECT inserted FROM t WHERE note = 'INSERT INTO x'",
    "-- INSERT would write\nSELECT 1 FROM t",
])
def test_reads_are_sent_as_written(sql):
    assert query.check_sql(f"  {sql}\n") == sql


def test_query_options_become_pinots_string():
    assert query.options_string({"timeoutMs": 1000, "useMultistageEngine": True, "enableNullHandling": False,
                                 "skipUpsert": " true ", "ratio": 0.5}) == (
        "timeoutMs=1000;useMultistageEngine=true;enableNullHandling=false;skipUpsert=true;ratio=0.5")
    assert query.options_string({}) is None
    assert query.options_string(None) is None


@pytest.mark.parametrize(("options", "field", "fragment"), [
    ({"timeoutMs": [1000]}, "query_options.timeoutMs", "not list"),
    ({"a": {"b": 1}}, "query_options.a", "not dict"),
    ({"a": None}, "query_options.a", "not null"),
    ({"a": "x;b=y"}, "query_options.a", "';' or '='"),
    ({"a": ""}, "query_options.a", "empty"),
    ({"a=b": 1}, "query_options.a=b", "not an option name"),
    ({" ": 1}, "query_options. ", "not an option name"),
    ("timeoutMs=1", "query_options", "mapping"),
])
def test_an_option_pinot_cannot_take_names_its_field(options, field, fragment):
    with pytest.raises(SpecError) as raised:
        query.options_string(options)
    assert raised.value.field == field
    assert fragment in raised.value.message


def test_the_http_wait_covers_the_querys_own_timeout():
    assert query.http_timeout({"timeout": 30.0}) == 30.0
    assert query.http_timeout({"timeout": 30.0, "query_options": {"timeoutMs": 60000}}) == 65.0
    assert query.http_timeout({"timeout": 30.0, "query_options": {"timeoutMs": "1000"}}) == 30.0
    # Not a number: Pinot refuses it itself (HTTP 500 naming timeoutMs); the wait stays the connection's.
    assert query.http_timeout({"timeout": 10.0, "query_options": {"timeoutMs": "soon"}}) == 10.0


# --- Pinot's answer --------------------------------------------------------------------------------------------

def test_an_answer_is_columns_rows_records_and_the_scalar_statistics():
    result = query.answer(ANSWER, "/sql", fail_on_partial=True)
    assert result["columns"] == ["id", "city"] and result["column_types"] == ["STRING", "STRING"]
    assert result["rows"] == [["a", "paris"], ["b", "rome"]]
    assert result["records"] == [{"id": "a", "city": "paris"}, {"id": "b", "city": "rome"}]
    assert (result["num_rows"], result["partial"], result["exceptions"], result["warnings"]) == (2, False, [], [])
    assert result["changed"] is False
    assert result["stats"] == {"numRowsResultSet": 2, "partialResult": False, "timeUsedMs": 9, "requestId": "16379",
                               "brokerId": "Broker_127.0.0.1_8099", "numDocsScanned": 2, "totalDocs": 2,
                               "numServersQueried": 1, "numServersResponded": 1, "numSegmentsQueried": 1}


def test_an_empty_result_has_its_columns_and_no_rows():
    empty = dict(ANSWER, resultTable={"dataSchema": {"columnNames": ["id"], "columnDataTypes": ["STRING"]},
                                      "rows": []})
    result = query.answer(empty, "/sql", fail_on_partial=True)
    assert (result["columns"], result["rows"], result["records"], result["num_rows"]) == (["id"], [], [], 0)


def test_pinots_exceptions_fail_with_code_and_message_whatever_fail_on_partial_says():
    for fail_on_partial in (True, False):
        with pytest.raises(query.QueryFailed) as raised:
            query.answer(PARSE_ERROR, "/query/sql", fail_on_partial)
        assert str(raised.value) == ("POST /query/sql failed: Pinot could not run the query: error 150: "
                                     "SQLParsingError: Caught exception while parsing query: SELEC")
        assert raised.value.extra_result == {"exceptions": PARSE_ERROR["exceptions"]}


def test_a_timeout_is_the_servers_that_did_not_respond():
    timed_out = dict(PARSE_ERROR, numServersQueried=1, exceptions=[
        {"errorCode": 427, "message": "1 servers [127.0.0.1_O] not responded"}])
    with pytest.raises(query.QueryFailed, match=r"error 427: 1 servers \[127.0.0.1_O\] not responded; "
                                                r"0 of 1 servers responded$"):
        query.answer(timed_out, "/sql", True)


@pytest.mark.parametrize(("change", "named"), [
    ({"exceptions": [{"errorCode": 305, "message": "ServerSegmentMissing"}]}, "error 305: ServerSegmentMissing"),
    ({"numServersQueried": 2, "numServersResponded": 1}, "1 of 2 servers responded"),
    ({"partialResult": True}, "Pinot marked the result partial (partialResult)"),
])
def test_a_partial_result_fails_or_comes_back_marked(change, named):
    partial = dict(ANSWER, **change)
    with pytest.raises(query.QueryFailed, match=r"the result is partial: " + named.replace("(", r"\(")
                       .replace(")", r"\)")):
        query.answer(partial, "/sql", fail_on_partial=True)
    accepted = query.answer(partial, "/sql", fail_on_partial=False)
    assert accepted["partial"] is True and accepted["num_rows"] == 2
    assert accepted["warnings"] == [f"partial result accepted (fail_on_partial=false): {named}"]


def test_a_repeated_column_name_is_warned_about_and_rows_keep_both():
    joined = dict(ANSWER, resultTable={"dataSchema": {"columnNames": ["id", "id"], "columnDataTypes": ["INT", "INT"]},
                                       "rows": [[1, 2]]})
    result = query.answer(joined, "/sql", True)
    assert result["rows"] == [[1, 2]] and result["records"] == [{"id": 2}]
    assert "repeat a name" in result["warnings"][0]


def test_an_answer_that_is_not_a_query_response_fails():
    with pytest.raises(PinotError, match="not a query response"):
        query.answer("<html>proxy</html>", "/sql", True)


# --- the module, in-process, against a scripted controller and broker -----------------------------------------

class Script(BaseHTTPRequestHandler):
    """Answers every request with the server's (status, body); records method, path, Authorization and body."""

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.server.seen.append((self.command, self.path, self.headers.get("Authorization"),
                                 json.loads(self.rfile.read(length) or b"null")))
        status, body = self.server.answer
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


def scripted():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Script)
    httpd.answer, httpd.seen = (200, ANSWER), []
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    return httpd


@pytest.fixture
def servers():
    controller, broker = scripted(), scripted()
    yield controller, broker
    for httpd in (controller, broker):
        httpd.shutdown()
        httpd.server_close()


def url(httpd):
    return f"http://127.0.0.1:{httpd.server_port}"


def test_through_the_controller_in_check_mode_too(servers):
    controller, broker = servers
    for check in (False, True):
        result = run_module("pinot_query", {"controller_url": url(controller), "sql": "SELECT id, city FROM t",
                                            "query_options": {"timeoutMs": 5000, "useMultistageEngine": False}},
                            check=check, diff=True)
        assert not result.get("failed"), result
        assert (result["changed"], result["executed_requests"], result["via"]) == (False, [], "controller")
        assert result["records"][1] == {"id": "b", "city": "rome"}
        assert "diff" not in result
    assert controller.seen == [("POST", "/sql", None, {"sql": "SELECT id, city FROM t",
                                                       "queryOptions": "timeoutMs=5000;useMultistageEngine=false"})] * 2
    assert broker.seen == []


def test_through_a_broker_with_the_connections_credentials_none_in_the_result(servers):
    controller, broker = servers
    result = run_module("pinot_query", {"controller_url": url(controller), "broker_url": url(broker),
                                        "username": "admin", "password": "pa55word", "sql": "SELECT id FROM t"})
    assert (result["changed"], result["executed_requests"], result["via"]) == (False, [], "broker")
    assert controller.seen == []
    ((method, path, authorization, body),) = broker.seen
    assert (method, path, body) == ("POST", "/query/sql", {"sql": "SELECT id FROM t"})
    assert authorization.startswith("Basic ")
    assert "pa55word" not in json.dumps(result)


def test_pinots_error_fails_the_task_with_its_code_and_nothing_changed(servers):
    controller, _broker = servers
    controller.answer = (200, PARSE_ERROR)
    result = run_module("pinot_query", {"controller_url": url(controller), "sql": "SELEC id FROM t"})
    assert result["failed"] and result["changed"] is False and result["executed_requests"] == []
    assert "error 150: SQLParsingError" in result["msg"]
    assert result["exceptions"] == PARSE_ERROR["exceptions"] and "stats" not in result


def test_an_http_error_fails_with_its_status(servers):
    controller, _broker = servers
    controller.answer = (500, {"code": 500, "error": "HTTP error code: 500. Root Cause: timeoutMs must be a number "
                                                     "between 1 and 2^63-1, got: 0"})
    result = run_module("pinot_query", {"controller_url": url(controller), "sql": "SELECT id FROM t",
                                        "query_options": {"timeoutMs": 0}})
    assert result["failed"] and result["status"] == 500 and "timeoutMs must be a number" in result["msg"]
    assert len(controller.seen) == 1  # a 500 is not retried


def test_bad_input_names_the_field_and_sends_nothing(servers):
    controller, broker = servers
    for args, field in ((dict(sql="  "), "sql"), (dict(sql="SELECT 1", query_options={"a": [1]}), "query_options.a"),
                        (dict(sql="INSERT INTO t FROM FILE 'x'", broker_url=url(broker)), "sql")):
        result = run_module("pinot_query", dict(controller_url=url(controller), **args))
        assert result["failed"] and result["field"] == field, result
    assert controller.seen == [] and broker.seen == []
