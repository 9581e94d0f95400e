-- The mail queue (like ory/kratos' courier): one row per mail, with its state and its tries.
-- Secrets stay sealed to the notifications key in `sealed`; they are opened only in memory
-- when the mail is sent.
create table mails (
    id              uuid primary key,
    source_event_id uuid not null,
    kind            text not null,
    recipient       text not null,
    context         jsonb not null default '{}',
    sealed          jsonb not null default '{}',
    message_id      text not null unique,
    state           text not null default 'queued'
                    check (state in ('queued', 'processing', 'sent', 'abandoned')),
    attempts        integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    locked_until    timestamptz,
    last_error      text,
    created_at      timestamptz not null default now(),
    sent_at         timestamptz,
    unique (source_event_id, kind)
);
create index mails_due on mails (next_attempt_at) where state = 'queued';
create index mails_leased on mails (locked_until) where state = 'processing';
