-- A password check's reservation in one round trip instead of five (BEGIN, the locks, the
-- counts, the insert, COMMIT): the function is called as a statement of its own, so its advisory
-- locks hold until that statement's transaction commits, with the new row in it. The counts are
-- read after the locks by a query of their own: in a volatile function each query takes a fresh
-- snapshot, so it sees every check that held the locks before (one statement alone would read
-- with the snapshot it started with, from before it waited). The rules stay in the service
-- (services/accounts/throttle.py): it reads the counts returned here, and a refused check deletes
-- the row it reserved.
create function reserve_attempt(
    p_key text,
    p_client text,
    p_device bytea,
    p_at timestamptz,
    p_lane_since timestamptz,
    p_lane_limit int,
    p_client_since timestamptz,
    p_client_limit int,
    out lane timestamptz[],
    out address timestamptz[],
    out attempt bigint
) language plpgsql volatile as $$
begin
    -- Always the account first (unnest keeps the array's order): two checks never wait in a circle.
    perform pg_advisory_xact_lock(hashtext(name))
        from unnest(array['accounts:attempts:' || p_key, 'accounts:client:' || p_client]) as name;
    select array(select at from login_failures where account_key = p_key and device is not distinct from p_device
                 and at > p_lane_since order by at desc limit p_lane_limit),
           array(select at from login_failures where client = p_client and at > p_client_since
                 order by at desc limit p_client_limit)
        into lane, address;
    insert into login_failures (account_key, client, device, at)
        values (p_key, p_client, p_device, p_at) returning id into attempt;
end
$$;
