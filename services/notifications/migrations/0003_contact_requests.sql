-- The contact form's recent requests, only to limit how often one client or one address may
-- write (the mails themselves are in `mails`). Rows older than the limit's window are deleted
-- by the next request, so client addresses are kept for an hour or so.
create table contact_requests (
    id          uuid primary key,
    client      text not null,
    address_key text not null,
    created_at  timestamptz not null
);
create index contact_requests_client on contact_requests (client, created_at);
create index contact_requests_address on contact_requests (address_key, created_at);
create index contact_requests_created on contact_requests (created_at);
