-- What an event tells about its person and the mails it asks for, in one call (issue 12): with the
-- event's marker and the person's lock, a user event is one round trip instead of four (BEGIN, the
-- marker, the statement, COMMIT). Called as a statement of its own, the lock holds until that
-- statement's commit, with everything written here; called inside a caller's transaction, until
-- the caller's. Each query below takes a fresh snapshot (a volatile function), so the tombstone is
-- read after the lock was granted: an erasure that held it before has committed and is seen.
--
-- p_event_id null: no marker (the caller took it); p_lock null: no lock (no person). Returns
-- `first` false when the event was handled before (nothing else done), `erased` when the person
-- has a tombstone (nothing written), and the kinds of the mails queued now (a redelivered event's
-- are there already). The workers are woken on commit when a mail was queued, by a NOTIFY on
-- p_channel; p_channel null: none (the caller wakes a worker of its own process after the commit).
create function record_event(
    p_event_id uuid,
    p_subject text,
    p_lock text,
    p_user_id uuid,
    p_email text,
    p_first_name text,
    p_last_name text,
    p_updated_at timestamptz,
    p_ids uuid[],
    p_source_event_ids uuid[],
    p_kinds text[],
    p_recipients text[],
    p_contexts text[],
    p_sealed text[],
    p_message_ids text[],
    p_at timestamptz[],
    p_useful_until timestamptz[],
    p_urgencies smallint[],
    p_request_ids text[],
    p_forget boolean[],
    p_channel text,
    out first boolean,
    out erased boolean,
    out added text[]
) language plpgsql volatile as $$
begin
    first := true;
    erased := false;
    added := '{}';
    if p_lock is not null then
        perform pg_advisory_xact_lock(hashtext(p_lock));
    end if;
    if p_event_id is not null then
        insert into processed_events (event_id, subject) values (p_event_id, p_subject)
            on conflict (event_id) do nothing;
        if not found then
            first := false;
            return;
        end if;
    end if;
    if exists (select 1 from tombstones where user_id = p_user_id) then
        erased := true;
        return;
    end if;
    if p_user_id is not null then
        insert into recipients (user_id, email, first_name, last_name, updated_at)
            values (p_user_id, p_email, p_first_name, p_last_name, p_updated_at)
            on conflict (user_id) do update set email = excluded.email, first_name = excluded.first_name,
                last_name = excluded.last_name, updated_at = excluded.updated_at
            where recipients.updated_at <= excluded.updated_at;
    end if;
    with queued as (
        insert into mails (id, source_event_id, kind, recipient, context, sealed, message_id,
            next_attempt_at, created_at, useful_until, urgency, request_id, forget_when_settled)
        select m.id, m.source_event_id, m.kind, m.recipient, m.context::jsonb, m.sealed::jsonb, m.message_id,
            m.at, m.at, m.useful_until, m.urgency, m.request_id, m.forget
        from unnest(p_ids, p_source_event_ids, p_kinds, p_recipients, p_contexts, p_sealed, p_message_ids,
                    p_at, p_useful_until, p_urgencies, p_request_ids, p_forget)
            as m(id, source_event_id, kind, recipient, context, sealed, message_id, at, useful_until, urgency,
                 request_id, forget)
        on conflict (source_event_id, kind) do nothing
        returning kind
    )
    select array(select kind from queued) into added;
    if cardinality(added) > 0 and p_channel is not null then
        perform pg_notify(p_channel, '');
    end if;
end
$$;
