-- One worker run handles a job at most once (issue 17). The run passes the ids it has already
-- handled (deferred for quiet hours, retried, failed, done) and the claim skips them, so a job
-- that is due again at once by the database's clock (a deferral or a retry into what the
-- database already sees as the past) waits for the next run instead of looping in this one.
-- The claim is our own statement rather than the shared claim_jobs, which takes no exclusions;
-- it is the same skip-locked, leased claim, limited to this service's job types.
drop function if exists public.table_booking_claim_jobs(integer, integer);

create or replace function public.table_booking_claim_jobs(
  p_batch_size integer,
  p_lease_seconds integer default 120,
  p_exclude uuid[] default '{}'
) returns setof public.jobs
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  v_types constant text[] :=
    array['table_booking_notify', 'send_sms', 'send_email', 'table_booking_refund'];
begin
  if p_batch_size is null or p_batch_size <= 0 then
    return;
  end if;
  -- A worker that died leaves its jobs 'processing'; once the lease is over they are due again
  -- (or failed, when they have used their attempts).
  update public.jobs set
    status = case when attempts < max_attempts then 'pending' else 'failed' end,
    failed_at = case when attempts < max_attempts then failed_at else now() end,
    error_message = coalesce(error_message, 'lease expired'),
    processing_token = null,
    lease_expires_at = null
  where status = 'processing'
    and type = any (v_types)
    and lease_expires_at < now();
  return query
    with picked as (
      select j.id
      from public.jobs j
      where j.status = 'pending'
        and j.scheduled_for <= now()
        and j.type = any (v_types)
        and coalesce(j.attempts, 0) < coalesce(j.max_attempts, 3)
        and j.id <> all (coalesce(p_exclude, '{}'))
      order by j.priority desc, j.created_at asc
      limit p_batch_size
      for update skip locked
    )
    update public.jobs j
       set status            = 'processing',
           started_at        = now(),
           processing_token  = gen_random_uuid(),
           lease_expires_at  = now() + make_interval(secs => coalesce(p_lease_seconds, 120)),
           last_heartbeat_at = now(),
           attempts          = coalesce(j.attempts, 0) + 1,
           updated_at        = now()
      from picked
     where j.id = picked.id
    returning j.*;
end
$$;

revoke execute on function public.table_booking_claim_jobs(integer, integer, uuid[])
  from public, anon, authenticated;
grant execute on function public.table_booking_claim_jobs(integer, integer, uuid[]) to service_role;
