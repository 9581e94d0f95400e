-- Messages this service could not read, or could not handle in all the deliveries its durable
-- allows (runtime.consumers): kept as JetStream delivered them until an operator retries or drops
-- them (`python -m services.<name> dead-letters`). Never deleted: a drop is a state, kept for the
-- record. A payload's secrets are sealed boxes (DESIGN.md), so keeping the bytes is safe.
create table dead_letters (
    id            bigserial primary key,
    consumer      text not null,         -- the durable, e.g. pins_user_confirmed_v1
    stream        text not null,
    subject       text not null,
    sequence      bigint not null,       -- the message's stream sequence
    published_at  timestamptz not null,  -- its stream timestamp: with the sequence, one message even in a re-made stream
    event_id      uuid,                  -- when the payload names one
    payload       bytea not null,
    reason        text not null,         -- the latest; never the payload's values
    deliveries    integer not null,      -- JetStream's deliveries, plus each operator's retry
    first_failure timestamptz not null default now(),  -- when it was given up
    last_failure  timestamptz not null default now(),  -- moved by a redelivery or a failed retry
    state         text not null default 'open' check (state in ('open', 'retried', 'dropped')),
    resolved_at   timestamptz,
    unique (consumer, stream, sequence, published_at)
);
