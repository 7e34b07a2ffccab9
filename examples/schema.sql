-- What the example workers need: the extension, and the table where they
-- store each job's result in the same transaction as its finish (so a
-- result is recorded exactly when the finish is accepted).
CREATE EXTENSION IF NOT EXISTS compute;
CREATE TABLE IF NOT EXISTS results (
    job_id  bytea NOT NULL,
    attempt integer NOT NULL,
    worker  text NOT NULL,
    status  text NOT NULL,
    result  text,
    at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
