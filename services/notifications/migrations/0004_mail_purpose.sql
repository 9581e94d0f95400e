-- A mail is tried until its purpose ends (`useful_until`: the link's or the initial password's
-- end, else a lifetime per kind), not a number of times: a weekend without SMTP must not cost a
-- member their initial password. It then ends `expired`; `failed` is a refusal for good (5xx),
-- which the old `abandoned` mostly was.
--
-- A claim is a short lease that its worker (`lease_owner`) renews while it lives; `takeovers`
-- counts claims taken from a worker whose lease ran out (a mail that kills its workers stops).
-- `waits_for_server`: the last try found the server down, not this mail refused; the next mail
-- that goes out brings these forward. `urgency` orders a backlog (0 first, then the oldest).
alter table mails
    add column useful_until timestamptz,
    add column urgency smallint not null default 3,
    add column lease_owner uuid,
    add column takeovers integer not null default 0,
    add column waits_for_server boolean not null default false;

-- Rows from before: the end their context names, else two weeks from when they were made.
update mails set useful_until = case
    when kind in ('registration_confirmation', 'password_reset') then (context ->> 'link_expires_at')::timestamptz
    when kind = 'initial_password' then (context ->> 'initial_password_expires_at')::timestamptz
    when kind = 'pin_letter_on_its_way'
        then ((context ->> 'valid_until')::date + 1)::timestamp at time zone 'Europe/Berlin'
    else created_at + interval '14 days'
end;
update mails set useful_until = created_at + interval '14 days' where useful_until is null;
alter table mails alter column useful_until set not null;

update mails set urgency = case kind
    when 'password_reset' then 0
    when 'registration_confirmation' then 1
    when 'initial_password' then 1
    when 'contact_request' then 2
    when 'already_registered' then 2
    when 'password_changed' then 2
    when 'business_linked' then 2
    else 3
end;

alter table mails drop constraint mails_state_check;
update mails set state = 'failed' where state = 'abandoned';
alter table mails add constraint mails_state_check
    check (state in ('queued', 'processing', 'sent', 'failed', 'expired'));

create index mails_by_urgency on mails (urgency, created_at) where state = 'queued';
create index mails_useful on mails (useful_until) where state in ('queued', 'processing');
create index mails_not_sent on mails (state, kind) where state <> 'sent';
