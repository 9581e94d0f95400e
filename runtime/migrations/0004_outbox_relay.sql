-- The relay claims rows under a short lease and publishes with no transaction open; a row that
-- fails waits with backoff, and only the later rows of its own aggregate wait behind it.
alter table outbox
    -- '' for rows written by a replica of the previous version during a rolling upgrade: they
    -- all count as one aggregate, published one after the other, never out of order.
    add column aggregate_key   text not null default '',
    add column attempts        integer not null default 0,
    add column next_attempt_at timestamptz,
    add column last_error      text,
    add column claimed_by      text,
    add column claimed_until   timestamptz;

-- Rows still waiting: the same rule as runtime.outbox_rules.aggregate_key.
update outbox set aggregate_key = case
        when subject like 'user.%' and payload ? 'user_id' then 'user:' || (payload->>'user_id')
        when subject like 'session.%' and payload ? 'user_id' then 'session:' || (payload->>'user_id')
        when subject like 'pin.%' and payload ? 'betriebsnummer' then 'pin:' || (payload->>'betriebsnummer')
        else 'event:' || event_id::text
    end
where published_at is null;

-- "Is an earlier row of this aggregate still unpublished?" for every row the relay claims.
create index outbox_unpublished_aggregate on outbox (aggregate_key, id) where published_at is null;
