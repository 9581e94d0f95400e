-- Who a user id is: pin events name a member by user id only, so notifications keeps the
-- address and name of each account from the user events it reads (a projection, upserted in
-- the same transaction as the event's mail). `updated_at` is the event's `occurred_at`: an
-- older event, delivered late, never overwrites a newer one.
create table recipients (
    user_id    uuid primary key,
    email      text not null,
    first_name text not null,
    last_name  text not null,
    updated_at timestamptz not null
);
