-- What someone waits for right now (runtime.outbox_rules.URGENT: a session revocation, a password
-- reset's mail, an initial password) is marked when written, so that in a backlog the relay
-- claims it before the rest; the partial index finds it without walking the backlog. Rows
-- written before this version are ordinary.
alter table outbox add column urgent boolean not null default false;
create index outbox_unpublished_urgent on outbox (id) where published_at is null and urgent;
