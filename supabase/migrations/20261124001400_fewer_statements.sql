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
    -- Identity only: the form's SMS choice is consent, recorded by tb_record_sms_consent once
    -- the booking exists.
    update public.customers set
      mobile_e164 = coalesce(mobile_e164, v_e164),
      email = case when email is null and v_email_free then v_email else email end,
      first_name = case when first_name in ('', 'Unknown') then p_customer ->> 'first_name'
                        else first_name end,
      last_name = case when last_name = '' then p_customer ->> 'last_name' else last_name end
    where id = v_id
      and (mobile_e164 is null or (email is null and v_email_free)
           or first_name in ('', 'Unknown') or last_name = '');
    return v_id;
  end if;
  -- A new customer as the pub's own booking path makes one (pub-engine-2026.md 9.2).
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

-- The booking form's SMS choice, after the booking is made. Where the pub's consent ledger exists
-- (customer_consents and record_customer_consent) it is recorded the pub's way, which also keeps
-- the customers summary; elsewhere the summary columns are set directly. A customer who opted out
-- (sms_status 'opted_out': a STOP, the pub's app, an earlier "no") is never opted back in by a
-- booking form alone: only a STOP's START or the pub's app does that.
create or replace function public.tb_record_sms_consent(
  p_customer_id uuid,
  p_opt_in boolean,
  p_booking_id uuid,
  p_actor jsonb
) returns void
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  c record;
  v_staff boolean := p_actor ->> 'kind' = 'staff';
begin
  if p_opt_in is null then
    return;
  end if;
  select sms_opt_in, sms_status into c from public.customers where id = p_customer_id for update;
  if not found or c.sms_status is not distinct from 'opted_out' then
    -- Opted out stays opted out (and a "no" from someone already out records nothing new).
    return;
  end if;
  if to_regprocedure('public.record_customer_consent(uuid, text, text, text, text, text, text, '
                     'text, text, uuid, text, text, text, text, text, jsonb, boolean)') is not null
  then
    perform public.record_customer_consent(
      p_customer_id => p_customer_id, p_channel => 'sms', p_purpose => 'service',
      p_status => case when p_opt_in then 'opted_in' else 'opted_out' end,
      p_legal_basis => 'consent',
      p_source => case when v_staff then 'staff_table_booking' else 'public_table_booking' end,
      p_capture_method => case when v_staff then 'staff_verbal' else 'checkbox' end,
      p_consent_text_version => 'anchor-table-bookings-sms-v1',
      p_captured_by_user_id => case when v_staff then (p_actor ->> 'id')::uuid end,
      p_related_entity_type => 'table_booking', p_related_entity_id => p_booking_id::text,
      p_metadata => jsonb_build_object('service', 'anchor-table-bookings'));
  elsif p_opt_in then
    update public.customers set
      sms_opt_in = true, sms_status = 'active',
      sms_opt_in_at = case when sms_opt_in is distinct from true then now() else sms_opt_in_at end,
      sms_opt_in_source = case when sms_opt_in is distinct from true then 'table_booking'
                               else sms_opt_in_source end
    where id = p_customer_id;
  else
    update public.customers set
      sms_opt_in = false, sms_status = 'opted_out',
      sms_opted_out_at = case when sms_opt_in is distinct from false then now()
                              else sms_opted_out_at end
    where id = p_customer_id;
  end if;
end
$$;

revoke execute on function public.tb_record_sms_consent(uuid, boolean, uuid, jsonb)
  from public, anon, authenticated;
