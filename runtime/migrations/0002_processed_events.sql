-- Events this service has handled: a consumer commits its work and this row together.
create table processed_events (
    event_id   uuid primary key,
    subject    text not null,
    handled_at timestamptz not null default now()
);
