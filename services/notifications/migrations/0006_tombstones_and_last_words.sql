-- Who was erased (user.deleted.v1), and when: no address, no name. The recipients projection is
-- fed by user events on other durables than user.deleted.v1, so a user.confirmed.v1 delivered
-- late must not bring an erased person back; a tombstone says so until no such event can still
-- come (housekeeping.TOMBSTONES).
create table tombstones (
    user_id    uuid primary key,
    deleted_at timestamptz not null
);
create index tombstones_deleted on tombstones (deleted_at);

-- A mail to someone already erased (the chamber's last word when staff erased the account)
-- keeps their address only until it is settled: sent, failed or expired, the row forgets whom
-- it went to, on every path that settles it, in the same statement.
alter table mails add column forget_when_settled boolean not null default false;

create function forget_settled_mail() returns trigger language plpgsql as $$
begin
    if new.forget_when_settled and new.state in ('sent', 'failed', 'expired') then
        new.recipient := 'gelöscht';
        new.context := '{}';
        new.sealed := '{}';
        new.last_error := null;
    end if;
    return new;
end
$$;
create trigger mails_forget_settled before insert or update on mails
    for each row execute function forget_settled_mail();

-- Support looks a member's mails up by address, whatever its case.
create index mails_recipient on mails (lower(recipient), created_at desc);
