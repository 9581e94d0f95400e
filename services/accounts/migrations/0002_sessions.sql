alter table users add column password_changed_at timestamptz;

-- Server-side sessions: the cookie carries a random token, the row only its keyed hash.
create table sessions (
    id           uuid primary key,  -- public id, named in session.revoke.v1
    token_hash   bytea not null unique,
    user_id      uuid not null references users (id) on delete cascade,
    created_at   timestamptz not null,
    last_seen_at timestamptz not null,
    expires_at   timestamptz not null
);
create index sessions_user on sessions (user_id);
create index sessions_expires on sessions (expires_at);

create table password_resets (
    token_hash bytea primary key,
    user_id    uuid not null references users (id) on delete cascade,
    created_at timestamptz not null,
    expires_at timestamptz not null,
    used_at    timestamptz
);
create index password_resets_user on password_resets (user_id, created_at);

-- Failed logins, for throttling per account and per client address. `device` is set when the
-- attempt came with a device cookie the account trusts: those count apart, so an attacker
-- hammering an account cannot lock its owner out of their own browser.
create table login_failures (
    id          bigserial primary key,
    account_key text not null,
    client      text not null,
    device      bytea,
    at          timestamptz not null
);
create index login_failures_account on login_failures (account_key, at);
create index login_failures_client on login_failures (client, at);

create table devices (
    token_hash   bytea primary key,
    user_id      uuid not null references users (id) on delete cascade,
    created_at   timestamptz not null,
    last_used_at timestamptz not null
);
create index devices_user on devices (user_id);

-- The businesses a user is linked to (filled from pin.linked.v1).
create table memberships (
    user_id        uuid not null references users (id) on delete cascade,
    betriebsnummer text not null,
    business_name  text not null,
    linked_at      timestamptz not null,
    primary key (user_id, betriebsnummer)
);
