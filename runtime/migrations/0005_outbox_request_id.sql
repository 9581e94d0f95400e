-- The request that caused an event (X-Request-Id), sent with it as a NATS header so the
-- consumers' log lines name it too. Null for events no request caused (the yearly PIN issue)
-- and for rows written before this version.
alter table outbox add column request_id text;
