-- The request that caused the mail (X-Request-Id, from the event's header or the contact form's
-- request): the worker's "mail sent" line names it. Null for mails queued before this version.
alter table mails add column request_id text;
