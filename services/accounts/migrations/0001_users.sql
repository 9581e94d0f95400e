create table users (
    id                  uuid primary key,
    email               text not null,
    email_key           text not null unique,  -- the address as matched: trimmed, lower case
    first_name          text not null,
    last_name           text not null,
    birth_date          date not null,
    state               text not null check (state in ('pending', 'active')),
    password_hash       text,
    password_is_initial boolean not null default false,
    password_expires_at timestamptz,
    created_at          timestamptz not null,
    confirmed_at        timestamptz,
    repeat_notice_at    timestamptz
);
create index users_pending_created on users (created_at) where state = 'pending';

-- Every confirmation link sent is a flow record (ory/kratos): hashed token, expiry, use.
create table confirmations (
    token_hash bytea primary key,
    user_id    uuid not null references users (id) on delete cascade,
    created_at timestamptz not null,
    expires_at timestamptz not null,
    used_at    timestamptz
);
create index confirmations_user on confirmations (user_id, created_at);
