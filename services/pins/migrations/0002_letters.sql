-- Every PIN letter is a record with a state (ory/kratos flows): the PIN only as a keyed hash.
-- Several may be valid for one business at once; a new letter never cancels an earlier one.
create table pin_letters (
    id             uuid primary key,  -- the request id, named in pin.requested.v1
    betriebsnummer text not null references businesses (betriebsnummer),
    reason         text not null check (reason in ('user_request', 'annual_notice')),
    requested_by   uuid,
    pin_hash       bytea not null,
    created_at     timestamptz not null,
    valid_until    timestamptz not null,
    used_at        timestamptz,
    used_by        uuid,
    superseded_at  timestamptz
);
create index pin_letters_business on pin_letters (betriebsnummer, created_at);
create index pin_letters_requester on pin_letters (requested_by, created_at) where requested_by is not null;
create index pin_letters_pin on pin_letters (betriebsnummer, pin_hash);

create table links (
    user_id        uuid not null,
    betriebsnummer text not null references businesses (betriebsnummer),
    linked_at      timestamptz not null,
    letter_id      uuid not null references pin_letters (id),
    primary key (user_id, betriebsnummer)
);
create index links_business on links (betriebsnummer);

-- Failed links, for throttling per member, client address and business (kept two days).
create table link_failures (
    id             bigserial primary key,
    user_id        uuid not null,
    client         text not null,
    betriebsnummer text not null,
    at             timestamptz not null
);
create index link_failures_user on link_failures (user_id, at);
create index link_failures_client on link_failures (client, at);
create index link_failures_business on link_failures (betriebsnummer, at);

-- The yearly issue: one run per year, one marker per business, so it resumes and never repeats.
create table annual_runs (
    year        int primary key,
    started_at  timestamptz not null,
    finished_at timestamptz
);
create table annual_letters (
    year           int not null references annual_runs (year),
    betriebsnummer text not null,
    letter_id      uuid not null references pin_letters (id),
    primary key (year, betriebsnummer)
);
