-- Fewer statements in a booking's transaction (bench/README.md: a create's PostgreSQL time is
-- mostly the start-up of its many small statements). Behaviour unchanged.
--
-- 1. tb_queue_job_once: the ledger row (with the job's id drawn first) and the job in one
--    statement, instead of ledger insert, job insert and ledger update.
-- 2. tb_resolve_customer: the lookup by E.164, the fallback to the legacy forms and the test of
--    the email in one statement (the fallback is still only run when the first finds nobody).

-- From 20261124000700_messages.sql.
create or replace function public.tb_queue_job_once(
  p_key text, p_booking_id uuid, p_type text, p_payload jsonb, p_priority integer,
  p_max_attempts integer
) returns uuid
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  v_job uuid;
begin
  -- Queued once per key: a key already in the ledger queues nothing (null).
  with ledger as (
    insert into public.table_booking_message_ledger (unique_key, table_booking_id, job_id)
    values (p_key, p_booking_id, gen_random_uuid())
    on conflict (unique_key) do nothing
    returning job_id
  )
  insert into public.jobs (id, type, payload, priority, max_attempts)
  select ledger.job_id, p_type, p_payload, p_priority, p_max_attempts from ledger
  returning id into v_job;
  return v_job;
end
$$;

-- From 20261124000600_booking_actions.sql.
create or replace function public.tb_resolve_customer(p_customer jsonb) returns uuid
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  v_e164 text := p_customer ->> 'mobile_e164';
  v_email text := lower(nullif(trim(p_customer ->> 'email'), ''));
  v_opt_in boolean := coalesce((p_customer ->> 'sms_opt_in')::boolean, true);
  v_email_free boolean;
  v_id uuid;
begin
  perform pg_advisory_xact_lock(hashtextextended('customer:' || v_e164, 0));
  -- The email is unique across customers; one that belongs to someone else is not copied.
  select coalesce(
           (select c.id from public.customers c where c.mobile_e164 = v_e164
             order by c.created_at limit 1),
           (select c.id from public.customers c
             where c.mobile_number = any (array(
                     select jsonb_array_elements_text(
                       coalesce(p_customer -> 'variants', '[]'::jsonb))))
             order by c.created_at limit 1)),
         v_email is not null
           and not exists (select 1 from public.customers c where lower(c.email) = v_email)
    into v_id, v_email_free;
  if v_id is not null then
    update public.customers set
      mobile_e164 = coalesce(mobile_e164, v_e164),
      email = case when email is null and v_email_free then v_email else email end,
      first_name = case when first_name in ('', 'Unknown') then p_customer ->> 'first_name'
                        else first_name end,
      last_name = case when last_name = '' then p_customer ->> 'last_name' else last_name end,
      sms_opt_in = v_opt_in,
      sms_opt_in_at = case when v_opt_in and sms_opt_in is distinct from true then now()
                           else sms_opt_in_at end,
      sms_opt_in_source = case when v_opt_in and sms_opt_in is distinct from true
                               then 'table_booking' else sms_opt_in_source end,
      sms_opted_out_at = case when not v_opt_in and sms_opt_in is distinct from false then now()
                              else sms_opted_out_at end
    where id = v_id;
    return v_id;
  end if;
  insert into public.customers (
    first_name, last_name, mobile_number, mobile_e164, email, sms_opt_in, sms_opt_in_at,
    sms_opt_in_source, sms_status, marketing_sms_opt_in)
  values (
    p_customer ->> 'first_name', coalesce(p_customer ->> 'last_name', ''), v_e164, v_e164,
    case when v_email_free then v_email end, v_opt_in, case when v_opt_in then now() end,
    case when v_opt_in then 'table_booking' end, 'active', false)
  returning id into v_id;
  return v_id;
end
$$;
