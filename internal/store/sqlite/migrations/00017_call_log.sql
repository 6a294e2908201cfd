-- +goose Up
-- Each merchant's API calls (internal/calllog): the log `cardgate logs tail` and the console
-- show, the same on every instance. Kept 7 days; the merchant's test data, so a sandbox reset
-- deletes it.
CREATE TABLE api_calls (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id     TEXT NOT NULL,
    at            INTEGER NOT NULL,
    request_id    TEXT NOT NULL,
    path          TEXT NOT NULL,
    result_code   TEXT NOT NULL,
    result_status TEXT NOT NULL,
    latency_ms    INTEGER NOT NULL
);
CREATE INDEX api_calls_by_merchant ON api_calls (client_id, id);
CREATE INDEX api_calls_by_time ON api_calls (at);

-- +goose Down
DROP TABLE api_calls;
