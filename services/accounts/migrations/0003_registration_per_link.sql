-- What was entered with a registration travels with its confirmation link: confirming a link
-- confirms exactly that, so registering again for an unconfirmed address (anyone may) overwrites
-- nothing, and the owner of the mailbox confirms what they entered themselves. Null on links
-- from before: those confirm the user row as it stands.
alter table confirmations
    add column first_name text,
    add column last_name  text,
    add column birth_date date;
