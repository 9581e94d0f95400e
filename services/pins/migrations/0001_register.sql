-- The business register, imported from the chamber's file. Businesses are never deleted, only
-- marked: letters and history keep pointing at them, and a later import brings them back.
create table businesses (
    betriebsnummer text primary key,
    name           text not null,
    street         text not null,
    postal_code    text not null,
    city           text not null,
    email          text,
    trade          text,
    deleted_at     timestamptz,
    imported_at    timestamptz not null,
    updated_at     timestamptz not null
);

-- Names and addresses of confirmed accounts (from user.confirmed.v1), shown to fellow members.
create table members (
    user_id      uuid primary key,
    email        text not null,
    first_name   text not null,
    last_name    text not null,
    confirmed_at timestamptz not null
);
