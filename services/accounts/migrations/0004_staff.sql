-- Staff accounts (issue 11): the chamber's employees sign in like members, with a second factor.
-- A staff account has no birth date: it is created by ops, not registered.
alter table users
    add column role           text not null default 'member' check (role in ('member', 'staff')),
    add column last_login_at  timestamptz,
    add column deactivated_at timestamptz,
    alter column birth_date drop not null;

-- When this session passed the second factor (staff only); null: not yet.
alter table sessions add column second_factor_at timestamptz;

-- The TOTP secret, encrypted with a key derived from the accounts secret; enrolled_at null while
-- the setup is not confirmed. last_step: the newest time step accepted, so a code is used once.
create table second_factors (
    user_id     uuid primary key references users (id) on delete cascade,
    secret      bytea not null,
    enrolled_at timestamptz,
    last_step   bigint not null default 0
);

-- Recovery codes as keyed hashes, each usable once.
create table recovery_codes (
    code_hash bytea primary key,
    user_id   uuid not null references users (id) on delete cascade,
    used_at   timestamptz
);
create index recovery_codes_user on recovery_codes (user_id);

create table second_factor_failures (
    id      bigserial primary key,
    user_id uuid not null references users (id) on delete cascade,
    at      timestamptz not null
);
create index second_factor_failures_user on second_factor_failures (user_id, at);

-- Every staff action, with ids only (no address, no name: an erased member leaves no trace here).
create table staff_audit (
    id             bigserial primary key,
    at             timestamptz not null,
    staff_user_id  uuid not null,
    action         text not null,
    user_id        uuid,
    betriebsnummer text
);
create index staff_audit_at on staff_audit (at);

-- Never editable: no update at all, and a delete only of rows past the retention (three years,
-- services.accounts.housekeeping.STAFF_AUDIT), which the housekeeping sweep removes.
create function staff_audit_guard() returns trigger language plpgsql as $$
begin
    if tg_op in ('UPDATE', 'TRUNCATE') then
        raise exception 'staff_audit rows cannot be changed';
    end if;
    if old.at > now() - interval '3 years' then
        raise exception 'staff_audit rows are kept three years';
    end if;
    return old;
end;
$$;
create trigger staff_audit_guard before update or delete on staff_audit
    for each row execute function staff_audit_guard();
create trigger staff_audit_no_truncate before truncate on staff_audit
    for each statement execute function staff_audit_guard();
