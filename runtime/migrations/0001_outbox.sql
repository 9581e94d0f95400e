-- Events waiting to be published; written in the same transaction as the state change.
create table outbox (
    id           bigserial primary key,
    event_id     uuid not null unique,
    subject      text not null,
    payload      jsonb not null,
    created_at   timestamptz not null default now(),
    published_at timestamptz
);
create index outbox_unpublished on outbox (id) where published_at is null;
