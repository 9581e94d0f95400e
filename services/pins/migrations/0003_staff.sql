-- A PIN letter the chamber's staff send on a member's call (issue 11).
alter table pin_letters drop constraint pin_letters_reason_check;
alter table pin_letters add constraint pin_letters_reason_check
    check (reason in ('user_request', 'annual_notice', 'staff_request'));

-- Who of the staff did what, on whom, when: ids only, never a member's name or e-mail (an erased
-- member must leave no trace in a dump). Written in the transaction of the action it records.
create table staff_audit (
    id             bigserial primary key,
    at             timestamptz not null,
    staff_user_id  uuid not null,
    action         text not null check (action in ('business_viewed', 'letter_requested', 'link_ended')),
    user_id        uuid,
    betriebsnummer text
);
create index staff_audit_at on staff_audit (at);

-- Never editable: no UPDATE ever, no DELETE before the retention (3 years, services/pins/audit.py
-- AUDIT_KEPT) has passed on the database's own clock; only the housekeeping sweep deletes.
create function staff_audit_refuse() returns trigger language plpgsql as $$
begin
    if tg_op in ('UPDATE', 'TRUNCATE') then
        raise exception 'staff_audit rows cannot be changed';
    end if;
    if old.at > now() - interval '3 years' then
        raise exception 'staff_audit rows are kept for 3 years';
    end if;
    return old;
end
$$;
create trigger staff_audit_refuse before update or delete on staff_audit
    for each row execute function staff_audit_refuse();
create trigger staff_audit_no_truncate before truncate on staff_audit
    for each statement execute function staff_audit_refuse();

-- A member erased by user.deleted.v1: a user.confirmed.v1 of theirs that arrives later (the two
-- durables are not ordered) must not bring them back. Only the id and when; purged by housekeeping.
create table member_tombstones (
    user_id    uuid primary key,
    deleted_at timestamptz not null
);
create index member_tombstones_deleted on member_tombstones (deleted_at);
