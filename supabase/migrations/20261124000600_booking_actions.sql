-- What changes bookings: customers and their consent, create, change, cancel, staff status,
-- and what follows from each write (tb_booking_written: messages, refunds).
--
-- Each action is one function, one transaction. Refusals raise P0001 with a code of API.md as
-- MESSAGE, a sentence for people as DETAIL and JSON details as HINT; a refusal rolls back
-- everything the call wrote, so a failure half-way leaves nothing behind.

-- Rate limits --------------------------------------------------------------------------------
-- Fixed windows counted in Postgres, so a limit holds across every instance of the service.
create table if not exists public.api_rate_counters (
  bucket text not null,
  window_start timestamptz not null,
  hits integer not null default 0,
  primary key (bucket, window_start)
);
alter table public.api_rate_counters enable row level security;

create table if not exists public.table_booking_unpaid_holds (
  booking_id uuid primary key references public.table_bookings (id) on delete cascade,
  client text not null,
  created_at timestamptz not null default now()
);
create index if not exists idx_table_booking_unpaid_holds_client
  on public.table_booking_unpaid_holds (client);
alter table public.table_booking_unpaid_holds enable row level security;
grant select, insert, update, delete on table public.table_booking_unpaid_holds to service_role;

-- Plain indexes on the pub's tables, made only where no index of the same definition exists.
select table_booking_service.ensure_index('idx_table_bookings_unpaid_holds',
  'public.table_bookings',
  $ix$create index idx_table_bookings_unpaid_holds on public.table_bookings
      (customer_id, hold_expires_at) where status = 'pending_payment'$ix$);

insert into public.system_settings (key, value, description) values
  ('sunday_lunch_unpaid_holds_per_phone', '{"value": 2}',
   'Bookings awaiting a deposit one phone number may hold unpaid at once (staff exempt).'),
  ('sunday_lunch_unpaid_holds_per_client', '{"value": 10}',
   'Bookings awaiting a deposit one API key may hold unpaid at once (staff exempt).'),
  ('sunday_lunch_unpaid_share_percent', '{"value": 50}',
   'The share (%) of a slot''s covers that unpaid deposit holds may take (staff exempt).')
on conflict (key) do nothing;

select table_booking_service.ensure_index('idx_webhook_logs_type_processed_at',
  'public.webhook_logs',
  $ix$create index idx_webhook_logs_type_processed_at on public.webhook_logs
      (webhook_type, processed_at)$ix$);

-- Function bodies are checked when called, not when made: each function is defined once,
-- in the file of its concern, in any order.
set local check_function_bodies = off;

-- Audit ----------------------------------------------------------------------------------------
-- p_actor: {kind: api_key|staff|guest|system, id, email, name}; p_client: {ip, user_agent}.
create or replace function public.tb_audit(
  p_operation text,
  p_booking_id uuid,
  p_status text,
  p_actor jsonb,
  p_client jsonb,
  p_old jsonb default null,
  p_new jsonb default null,
  p_info jsonb default null,
  p_error text default null,
  p_resource_type text default 'table_booking'
) returns void
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  v_user uuid;
begin
  if p_actor ->> 'kind' = 'staff' then
    -- audit_logs.user_id references auth.users; a staff token for a user the database does not
    -- know (e.g. minted locally) is still recorded, by email and in additional_info.
    select id into v_user from auth.users where id = (p_actor ->> 'id')::uuid;
  end if;
  insert into public.audit_logs (
    user_id, user_email, operation_type, resource_type, resource_id, operation_status,
    ip_address, user_agent, old_values, new_values, error_message, additional_info)
  values (
    v_user, p_actor ->> 'email', p_operation, p_resource_type, p_booking_id::text, p_status,
    nullif(p_client ->> 'ip', '')::inet, p_client ->> 'user_agent', p_old, p_new, p_error,
    coalesce(p_info, '{}'::jsonb) || jsonb_build_object('actor', p_actor));
end
$$;

-- A refused attempt, written after the refused transaction rolled back.
create or replace function public.table_booking_audit_refusal(
  p_operation text,
  p_reference text,
  p_error_code text,
  p_error_message text,
  p_actor jsonb,
  p_client jsonb,
  p_request jsonb default null
) returns void
language sql volatile security definer set search_path = public, pg_temp as $$
  select public.tb_audit(
    p_operation,
    (select id from public.table_bookings where booking_reference = upper(p_reference)),
    'failure', p_actor, p_client, null, p_request,
    jsonb_build_object('booking_reference', p_reference, 'error_code', p_error_code),
    p_error_message)
$$;

-- .
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

-- Money as the API shows it: "12.50".
create or replace function public.tb_money(p_amount numeric) returns text
language sql immutable set search_path = pg_catalog, pg_temp as $$
  select to_char(coalesce(p_amount, 0), 'FM999999990.00')
$$;

-- Refund due when cancelling now, under the terms copied onto the booking. A deposit taken by
-- the pub's rule (refund_policy.refund_terms, copied from the booking's frozen snapshot by
-- table_booking_deposit_sync) is refunded by whole London calendar days before the booking date
-- (its section 6.6): 'seasonal', all or nothing from deposit_refund_cutoff_days (0: never; a
-- cut-off that cannot be read refunds nothing); 'group_days', 100% from 7 days, 50% from 3, else
-- nothing. Otherwise (Sunday lunch, and bookings without a deposit by rule): 100% from
-- full_refund_hours before the start, partial_refund_percentage from partial_refund_hours, else
-- nothing, less any cancellation fee. Never below zero; rounded half up to the penny.
create or replace function public.tb_refund_due(
  p_policy jsonb,
  p_paid numeric,
  p_start timestamptz,
  p_now timestamptz,
  out percentage integer,
  out amount numeric
)
language plpgsql immutable set search_path = pg_catalog, pg_temp as $$
declare
  v_hours numeric := extract(epoch from (p_start - p_now)) / 3600;
  v_days integer := (p_start at time zone 'Europe/London')::date
                    - (p_now at time zone 'Europe/London')::date;
  v_cutoff integer;
begin
  if p_policy ->> 'refund_terms' = 'seasonal' then
    begin
      v_cutoff := (p_policy ->> 'deposit_refund_cutoff_days')::int;
    exception when others then
      v_cutoff := null;
    end;
    percentage := case when v_cutoff is not null and v_cutoff > 0 and v_days >= v_cutoff
                       then 100 else 0 end;
    amount := round(coalesce(p_paid, 0) * percentage / 100.0, 2);
    return;
  elsif p_policy ->> 'refund_terms' = 'group_days' then
    percentage := case when v_days >= 7 then 100 when v_days >= 3 then 50 else 0 end;
    amount := round(coalesce(p_paid, 0) * percentage / 100.0, 2);
    return;
  elsif p_policy ? 'refund_terms' then
    -- Terms this service does not know: fail closed, as the pub does.
    percentage := 0;
    amount := 0;
    return;
  end if;
  percentage := case
    when v_hours >= coalesce((p_policy ->> 'full_refund_hours')::numeric, 48) then 100
    when v_hours >= coalesce((p_policy ->> 'partial_refund_hours')::numeric, 24)
      then coalesce((p_policy ->> 'partial_refund_percentage')::int, 0)
    else 0 end;
  amount := greatest(
    round(coalesce(p_paid, 0) * percentage / 100.0, 2)
      - case when percentage > 0 then coalesce((p_policy ->> 'cancellation_fee')::numeric, 0)
             else 0 end,
    0);
end
$$;

-- Create. The id and the reference are drawn first; unpaid holds are bounded (issue 14) and a
-- key's hold recorded for the count per key; what the pub's schema requires is filled as its
-- own RPC fills it; the SMS choice is recorded once the booking exists.
create or replace function public.table_booking_create(p_request jsonb, p_now timestamptz)
returns jsonb
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  cfg jsonb := public.tb_config();
  v_type public.table_booking_type := (p_request ->> 'booking_type')::public.table_booking_type;
  v_date date := (p_request ->> 'date')::date;
  v_time time := (p_request ->> 'time')::time;
  v_party integer := (p_request ->> 'party_size')::int;
  v_override boolean := coalesce((p_request ->> 'override')::boolean, false);
  v_selections jsonb := coalesce(p_request -> 'menu_selections', '[]'::jsonb);
  v_duration integer := (cfg ->> 'duration_minutes')::int;
  v_idem_key text := p_request #>> '{idempotency,key}';
  v_idem_hash text := p_request #>> '{idempotency,request_hash}';
  v_staff boolean := p_request #>> '{actor,kind}' = 'staff';
  v_purpose text := coalesce(p_request ->> 'purpose', 'food');
  v_outside boolean := coalesce((p_request ->> 'is_outside_seating')::boolean, false);
  v_accessible boolean := coalesce((p_request ->> 'requires_accessible_table')::boolean, false);
  v_chairs integer := coalesce((p_request ->> 'high_chair_count')::int, 0);
  v_channel text := public.tb_channel(p_request -> 'actor', p_request ->> 'source');
  -- Only staff may waive a deposit, bypass pacing, override the table rules or pin a booking
  -- (the Python layer refuses these from anyone else; here they are simply never honoured).
  v_waived boolean := v_staff and coalesce((p_request ->> 'deposit_waived')::boolean, false);
  v_bypass boolean := v_staff and (coalesce((p_request ->> 'bypass_pacing')::boolean, false)
                                   or v_channel = 'walk-in');
  v_overrides jsonb := case when v_staff and jsonb_typeof(p_request -> 'table_overrides') = 'object'
                            then p_request -> 'table_overrides' end;
  v_pin boolean := v_staff and coalesce((p_request ->> 'pin')::boolean, false);
  v_tables boolean := public.tb_venue_has_tables();
  v_claimed text;
  v_stored public.idempotency_keys;
  v_rate record;
  v_customer uuid;
  v_start timestamptz;
  v_unknown jsonb;
  v_mains integer;
  v_id uuid;
  v_reference text;
  v_status public.table_booking_status;
  v_policy public.booking_policies;
  v_total numeric(10, 2) := 0;
  v_deposit numeric(10, 2);
  v_hold timestamptz;
  v_response jsonb;
  v_client text;
  v_dep jsonb;
  v_seat record;
  v_table_ids uuid[];
  v_table_names text;
  v_joined boolean := false;
  v_turnaround integer := 0;
  v_granted integer := 0;
  v_notice integer;
  -- What a replay needs besides the answer (app.services.tokens.seal).
  v_sealed jsonb := jsonb_build_object('manage_token_sealed',
                                       p_request ->> 'manage_token_sealed');
begin
  -- The caller that flushes the WAL itself before it answers (flush_after_commit: the
  -- service's adapters, tb_flush_wal) lets this commit without waiting for the disk, so the
  -- floor's venue-wide lock, released at commit, is not held through the flush. Nothing is
  -- confirmed to anyone before the flush: see tb_flush_wal.
  if coalesce((p_request ->> 'flush_after_commit')::boolean, false) then
    perform set_config('synchronous_commit', 'off', true);
  end if;
  -- The id is drawn by the caller when it made the deposit's PayPal order first (the order
  -- names the booking).
  v_id := coalesce((p_request ->> 'booking_id')::uuid, gen_random_uuid());
  v_reference := public.generate_booking_reference();

  -- Idempotency: the claim is this transaction's row in idempotency_keys. A parallel request
  -- with the same key waits on it, then replays the committed response; if this transaction
  -- fails, the claim disappears with it and the key can be used again. The claim's response is
  -- written at the end, when it is known.
  if v_idem_key is not null then
    -- An expired row is taken over in the same statement.
    insert into public.idempotency_keys as i (key, request_hash, response, expires_at)
    values (v_idem_key, v_idem_hash, jsonb_build_object('state', 'processing', 'claimed_at', p_now),
            p_now + interval '24 hours')
    on conflict (key) do update
      set request_hash = excluded.request_hash, response = excluded.response,
          created_at = now(), expires_at = excluded.expires_at
      where i.expires_at <= p_now
    returning key into v_claimed;
    if v_claimed is null then
      select * into v_stored from public.idempotency_keys where key = v_idem_key;
      if v_stored.request_hash is distinct from v_idem_hash then
        raise exception using errcode = 'P0001', message = 'IDEMPOTENCY_KEY_CONFLICT',
          detail = 'This Idempotency-Key was already used with a different request.';
      end if;
      return v_stored.response || '{"replayed": true}'::jsonb;
    end if;
  end if;

  if v_purpose not in ('food', 'drinks') or (v_purpose = 'drinks' and v_type = 'sunday_lunch')
  then
    raise exception using errcode = 'P0001', message = 'VALIDATION_ERROR',
      detail = 'A booking is for food or for drinks; Sunday lunch is food.',
      hint = '[{"field": "purpose", "message": "food or drinks; sunday_lunch is food"}]';
  end if;
  if (v_outside or v_accessible or v_chairs > 0) and not v_tables then
    raise exception using errcode = 'P0001', message = 'VALIDATION_ERROR',
      detail = 'This venue has no tables set up, so outside seating, an accessible table or '
               'high chairs cannot be booked online. Please call us.',
      hint = '[{"field": "is_outside_seating"}]';
  end if;

  v_start := public.tb_check_slot(v_type, v_date, v_time, v_party, p_now, v_override, cfg,
                                  v_purpose);

  if v_type = 'sunday_lunch' then
    select coalesce(jsonb_agg(s ->> 'menu_item_id'), '[]'::jsonb) into v_unknown
    from jsonb_array_elements(v_selections) s
    where not exists (select 1 from public.sunday_lunch_menu_items m
                      where m.id = (s ->> 'menu_item_id')::uuid and m.is_active);
    if jsonb_array_length(v_unknown) > 0 then
      raise exception using errcode = 'P0001', message = 'INVALID_MENU_ITEMS',
        detail = 'Some of the chosen dishes are not on the Sunday lunch menu any more.',
        hint = jsonb_build_object('menu_item_ids', v_unknown)::text;
    end if;
    select coalesce(sum((s ->> 'quantity')::int), 0) into v_mains
    from jsonb_array_elements(v_selections) s
    join public.sunday_lunch_menu_items m on m.id = (s ->> 'menu_item_id')::uuid
    where m.category = 'main';
    if v_mains <> v_party then
      raise exception using errcode = 'P0001', message = 'INVALID_MEAL_SELECTION',
        detail = format('Sunday lunch needs one main course per guest: %s %s, %s %s chosen.',
                        v_party, case when v_party = 1 then 'guest' else 'guests' end, v_mains,
                        case when v_mains = 1 then 'main' else 'mains' end),
        hint = jsonb_build_object('party_size', v_party, 'mains', v_mains)::text;
    end if;
  elsif jsonb_array_length(v_selections) > 0 then
    raise exception using errcode = 'P0001', message = 'VALIDATION_ERROR',
      detail = 'Menu selections are taken for Sunday lunch bookings only.',
      hint = '[{"field": "menu_selections", "message": "only for sunday_lunch"}]';
  end if;

  v_customer := public.tb_resolve_customer(p_request -> 'customer');

  if p_request ? 'create_limit_per_phone' then
    select * into v_rate from public.tb_rate_hit(
      'create_phone:' || (p_request #>> '{customer,mobile_e164}'),
      (p_request ->> 'create_limit_per_phone')::int, 3600, p_now);
    if not v_rate.allowed then
      raise exception using errcode = 'P0001', message = 'RATE_LIMIT_EXCEEDED',
        detail = format('Too many bookings for this phone number in the last hour. Please call '
                        'us on %s.', cfg ->> 'contact_phone'),
        hint = jsonb_build_object('reset_at', v_rate.reset_at,
                                  'retry_after', ceil(extract(epoch from v_rate.reset_at - p_now)),
                                  'limit', v_rate.hit_limit)::text;
    end if;
  end if;

  if v_tables then
    -- The pub's engine: the period's own checks, tables, pacing, then the deposit's limits.
    v_dep := public.tb_deposit_verdict(v_type::text, v_party, v_date,
                                       (p_request ->> 'booking_period_id')::uuid,
                                       (p_request ->> 'booking_period_answer')::boolean,
                                       v_purpose, v_waived, cfg);
    if v_dep ->> 'blocked' in ('period_date_mismatch', 'period_not_available') then
      perform public.tb_refuse_deposit(v_dep, v_date);
    end if;
    -- The accepted period's minimum notice (staff overriding the notice excepted).
    v_notice := coalesce((v_dep ->> 'min_notice_hours')::int, 0);
    if v_notice > 0 and not v_override
       and v_start < p_now + make_interval(hours => v_notice) then
      raise exception using errcode = 'P0001', message = 'POLICY_VIOLATION',
        detail = format('%s bookings need at least %s hours notice.',
                        coalesce(v_dep #>> '{period,name}', 'These'), v_notice),
        hint = '{"reason": "cut_off"}';
    end if;
    -- How long the guest keeps the table is the party's, the day's and the purpose's
    -- (tb_booking_minutes), not the tables': the booking is written before the floor is locked
    -- (below), and the pub's venue-wide lock is held only to choose and record its tables.
    select m.guest_minutes, m.turnaround_minutes into v_duration, v_turnaround
    from public.tb_booking_minutes(v_purpose, v_party, v_date) m;
    if coalesce((v_dep ->> 'deposit_required')::boolean, false) then
      v_deposit := (v_dep ->> 'deposit_amount')::numeric(10, 2);
    end if;
  else
    perform public.tb_claim_covers(array[v_date], v_date, v_time, v_start, v_duration, v_type,
                                   v_party, p_now, null, (cfg ->> 'capacity')::int);
    if v_type = 'sunday_lunch' then
      v_deposit := (cfg ->> 'deposit_per_guest')::numeric(10, 2) * v_party;
    end if;
  end if;

  v_status := case when v_deposit > 0 then 'pending_payment' else 'confirmed' end;
  select * into v_policy from public.booking_policies where booking_type = v_type;
  if v_status = 'pending_payment' then
    -- The hold never outlasts the booking itself: Sunday lunch's own payment window, else the
    -- pub's (a day, or until the start).
    v_hold := case when v_type = 'sunday_lunch'
                   then least(p_now + make_interval(mins => (cfg ->> 'payment_hold_minutes')::int),
                              v_start)
                   else public.tb_deposit_hold_expiry(v_start, p_now) end;
  end if;
  insert into public.table_bookings (
    id, booking_reference, customer_id, booking_date, booking_time, party_size, booking_type,
    status, duration_minutes, special_requirements, dietary_requirements, allergies,
    celebration_type, source, confirmed_at, hold_expires_at, start_datetime, end_datetime,
    manage_token_hash, refund_policy, deposit_amount, payment_status, policy_override,
    reminder_sent, created_at, committed_party_size, booking_purpose, is_outside_seating,
    requires_accessible_table, high_chair_count, table_pinned, assignment_soft, deposit_waived,
    booking_period_id, booking_period_code, booking_period_name, booking_period_answer,
    booking_period_requires_preorder, deposit_rule, deposit_basis, deposit_rate,
    deposit_refund_cutoff_days, deposit_refund_policy)
  values (
    v_id, v_reference, v_customer, v_date, v_time, v_party, v_type, v_status, v_duration,
    nullif(p_request ->> 'special_requirements', ''),
    array(select jsonb_array_elements_text(coalesce(p_request -> 'dietary_requirements',
                                                    '[]'::jsonb))),
    array(select jsonb_array_elements_text(coalesce(p_request -> 'allergies', '[]'::jsonb))),
    nullif(p_request ->> 'celebration_type', ''), coalesce(p_request ->> 'source', 'website'),
    case when v_status = 'confirmed' then p_now end, v_hold, v_start,
    v_start + make_interval(mins => v_duration), p_request ->> 'manage_token_hash',
    jsonb_build_object(
      'full_refund_hours', v_policy.full_refund_hours,
      'partial_refund_hours', v_policy.partial_refund_hours,
      'partial_refund_percentage', v_policy.partial_refund_percentage,
      'cancellation_fee', public.tb_money(v_policy.cancellation_fee),
      'modification_allowed', coalesce(v_policy.modification_allowed, true)),
    v_deposit, case when v_status = 'pending_payment' then 'pending'::public.payment_status end,
    -- committed_party_size: the covers the kitchen plans for, as the pub's own RPC fills it.
    v_override, false, p_now, v_party, v_purpose, v_outside, v_accessible, v_granted,
    v_pin and not v_outside, v_purpose = 'drinks' and not v_outside, v_waived,
    -- The pub's terms snapshot (its section 6.3), written with the row (v_dep is null where
    -- the venue has no tables: none of it then).
    (v_dep #>> '{period,id}')::uuid, v_dep #>> '{period,code}', v_dep #>> '{period,name}',
    (v_dep #>> '{period,answer}')::boolean,
    case when (v_dep #>> '{period,answer}')::boolean
         then (v_dep #>> '{period,requires_preorder}')::boolean end,
    -- Sunday lunch's own deposit is none of the pub's rules: left unnamed.
    nullif(v_dep ->> 'deposit_rule', 'sunday_lunch'),
    case when v_deposit > 0 then v_dep ->> 'deposit_basis' end,
    case when v_deposit > 0 then (v_dep ->> 'deposit_rate')::numeric end,
    case when v_deposit > 0 then (v_dep ->> 'refund_cutoff_days')::int end,
    case when v_deposit > 0 then v_dep ->> 'refund_policy' end);

  if v_type = 'sunday_lunch' then
    -- Prices come from the menu, never from the client; included sides (price 0) are served
    -- to every guest, so they are added here rather than chosen.
    insert into public.table_booking_items (
      booking_id, menu_item_id, item_type, quantity, price_at_booking, guest_name,
      special_requests)
    select v_id, m.id, m.category::public.booking_item_type, (s ->> 'quantity')::int, m.price,
           nullif(s ->> 'guest_name', ''), nullif(s ->> 'special_requests', '')
    from jsonb_array_elements(v_selections) s
    join public.sunday_lunch_menu_items m on m.id = (s ->> 'menu_item_id')::uuid
    where not (m.category = 'side' and m.price = 0);
    insert into public.table_booking_items (
      booking_id, menu_item_id, item_type, quantity, price_at_booking)
    select v_id, m.id, 'side', v_party, 0
    from public.sunday_lunch_menu_items m
    where m.is_active and m.category = 'side' and m.price = 0;
    select coalesce(sum(price_at_booking * quantity), 0) into v_total
    from public.table_booking_items where booking_id = v_id;
    update public.table_bookings set total_amount = v_total where id = v_id;
  else
    -- Without a pre-order the amount known is the deposit; the bill on the day is separate.
    v_total := coalesce(v_deposit, 0);
  end if;
  perform public.tb_record_sms_consent(v_customer, (p_request -> 'customer' ->> 'sms_opt_in')::boolean,
                                       v_id, p_request -> 'actor');
  -- skip_customer_sms (the 2026 website's create, pub-api-2026.md 5.5): a booking awaiting its
  -- deposit sends nothing at create; the guest's text and the manager's alert follow the capture.
  if not (v_status = 'pending_payment'
          and coalesce((p_request ->> 'skip_customer_sms')::boolean, false)) then
    perform public.tb_booking_written(null, (select t from public.table_bookings t
                                             where t.id = v_id));
  end if;

  if v_tables then
    -- The floor, under the pub's venue-wide lock (to this transaction's end): the tables are
    -- chosen and recorded, this booking's own row left out of what it is judged against.
    perform public.tb_lock_floor();
    select * into v_seat
    from public.tb_seat_verdict(v_date, v_time, v_start, v_party, v_purpose, v_channel,
                                v_outside, v_accessible, v_chairs, v_overrides, v_bypass, p_now,
                                v_id);
    if v_seat.reason is not null then
      perform public.tb_refuse_seat(v_seat.reason, v_date, v_time);
    end if;
    if v_dep ->> 'blocked' is not null then
      perform public.tb_refuse_deposit(v_dep, v_date);
    end if;
    v_table_ids := v_seat.table_ids;
    v_table_names := v_seat.table_names;
    v_joined := coalesce(v_seat.tables_joined, false);
    if v_chairs > 0 then
      perform public.tb_lock_high_chairs();
      v_granted := least(v_chairs, greatest(public.tb_high_chairs_free(
        v_start, v_start + make_interval(mins => v_seat.guest_minutes + v_seat.turnaround_minutes),
        p_now, v_id), 0));
    end if;
    -- The durations as the seat was judged (the settings read above may have changed since).
    if (v_seat.guest_minutes, v_seat.turnaround_minutes) is distinct from (v_duration, v_turnaround)
       or v_granted > 0 then
      v_duration := v_seat.guest_minutes;
      v_turnaround := v_seat.turnaround_minutes;
      update public.table_bookings
         set duration_minutes = v_duration,
             end_datetime = v_start + make_interval(mins => v_duration),
             high_chair_count = v_granted
       where id = v_id;
    end if;
    perform public.tb_seat_booking(v_id, v_table_ids, v_start,
                                   v_start + make_interval(mins => v_duration + v_turnaround),
                                   v_outside, v_party);
  end if;
  -- Unpaid holds are bounded (after the claim or the floor's lock, which make the share exact;
  -- the booking itself, written above, is left out of its own count).
  if v_status = 'pending_payment' and not v_staff then
    -- A key's holds are bounded, but not the pub's 2026 website's (source brand_site): its one
    -- key books for every guest, who are bounded by phone and by the share below.
    v_client := case when p_request #>> '{actor,kind}' = 'api_key'
                      and p_request ->> 'source' is distinct from 'brand_site'
                     then 'api_key:' || (p_request #>> '{actor,id}') end;
    perform public.tb_limit_unpaid_holds(v_client, v_customer, v_date, v_time, v_start,
                                         v_duration, v_party, p_now, cfg, v_id);
  end if;
  -- The caller takes a deposit first (deposit_first: it makes the PayPal order, or refuses when
  -- deposits cannot be taken) and has no order yet: every rule has let the booking through, and
  -- nothing is kept (this transaction is undone); the caller comes back with the order for this
  -- amount.
  if v_status = 'pending_payment' and coalesce((p_request ->> 'deposit_first')::boolean, false)
     and not p_request ? 'paypal_order' then
    raise exception using errcode = 'P0001', message = 'DEPOSIT_FIRST',
      detail = 'A deposit is due: its order comes first.',
      hint = jsonb_build_object('deposit_amount', public.tb_money(v_deposit))::text;
  end if;

  if v_status = 'pending_payment' then
    -- The pub's payment hold and the frozen refund terms, in this transaction.
    perform public.table_booking_deposit_sync(v_id, p_now);
    if v_client is not null then
      insert into public.table_booking_unpaid_holds (booking_id, client) values (v_id, v_client);
    end if;
    insert into public.table_booking_payments (
      booking_id, payment_method, amount, currency, status, payment_metadata)
    values (v_id, 'paypal', v_deposit, 'GBP', 'pending', jsonb_build_object(
      'payment_type', 'deposit', 'deposit_amount', public.tb_money(v_deposit),
      'total_amount', public.tb_money(v_total),
      'outstanding_amount', public.tb_money(greatest(v_total - v_deposit, 0)),
      'deposit_rule', v_dep ->> 'deposit_rule'));
    -- The PayPal order made before this transaction, for exactly this deposit: the guest is
    -- sent to it at once. A deposit that changed in between (the pub's settings) is not
    -- charged by an order for another amount: nothing is booked and the caller may try again.
    if p_request ? 'paypal_order' then
      if (p_request #>> '{paypal_order,amount}')::numeric is distinct from v_deposit then
        raise exception using errcode = 'P0001', message = 'SERVICE_UNAVAILABLE',
          detail = 'The deposit changed while the booking was being made. Nothing was booked; '
                   'please try again.';
      end if;
      perform public.table_booking_payment_order(
        v_id, p_request #>> '{paypal_order,id}', p_request #>> '{paypal_order,approve_url}',
        v_deposit, p_request -> 'actor', p_request -> 'client');
    end if;
  end if;

  v_response := jsonb_build_object(
    'booking_id', v_id,
    'booking_reference', v_reference,
    'status', v_status,
    'booking_type', v_type,
    'date', to_char(v_date, 'YYYY-MM-DD'),
    'time', to_char(v_time, 'HH24:MI'),
    'party_size', v_party,
    'duration_minutes', v_duration,
    'payment_required', v_status = 'pending_payment',
    'booking_purpose', v_purpose,
    'table_name', v_table_names,
    'tables_joined', v_joined,
    'is_outside_seating', v_outside,
    'high_chairs_granted', v_granted,
    'high_chairs_short', greatest(v_chairs - v_granted, 0),
    -- The refund terms the answer's words state (not part of the documented answer).
    'refund_policy', (select t.refund_policy from public.table_bookings t where t.id = v_id));
  if v_status = 'pending_payment' then
    v_response := v_response || jsonb_build_object('payment_details', jsonb_build_object(
      'deposit_amount', public.tb_money(v_deposit),
      'total_amount', public.tb_money(v_total),
      'outstanding_amount', public.tb_money(greatest(v_total - v_deposit, 0)),
      'currency', 'GBP',
      'payment_url', p_request #>> '{paypal_order,approve_url}',
      'expires_at', public.tb_london_iso(v_hold)));
  end if;

  perform public.tb_audit(
    'table_booking.created', v_id, 'success', p_request -> 'actor', p_request -> 'client',
    null, v_response,
    jsonb_build_object('booking_reference', v_reference, 'booking_type', v_type,
                       'party_size', v_party, 'booking_date', v_date,
                       'source', coalesce(p_request ->> 'source', 'website'),
                       'customer_id', v_customer));
  if v_override then
    perform public.tb_audit(
      'table_booking.policy_override', v_id, 'success', p_request -> 'actor',
      p_request -> 'client', null, null,
      jsonb_build_object('booking_reference', v_reference, 'overrides',
                         jsonb_build_array('minimum_notice', 'sunday_lunch_cut_off')),
      null, 'table_booking_override');
  end if;
  if v_staff and (v_bypass or v_waived or v_pin
                  or exists (select 1 from jsonb_each(coalesce(v_overrides, '{}'::jsonb)) o
                             where o.value = 'true'::jsonb)) then
    perform public.tb_audit(
      'table_booking.table_override', v_id, 'success', p_request -> 'actor',
      p_request -> 'client', null, null,
      jsonb_build_object('booking_reference', v_reference, 'channel', v_channel,
                         'overrides', coalesce(v_overrides, '{}'::jsonb),
                         'bypass_pacing', v_bypass, 'deposit_waived', v_waived, 'pin', v_pin),
      null, 'table_booking_override');
  end if;

  if v_idem_key is not null then
    update public.idempotency_keys
       set response = v_response || v_sealed
     where key = v_idem_key;
  end if;
  return v_response || jsonb_build_object('customer_id', v_customer);
end
$$;

-- The caller's durability barrier after a create that committed without waiting for its WAL
-- (flush_after_commit). This transaction writes a logical message, which takes a transaction id
-- and WAL, so its commit (synchronous_commit on, the default) waits until the WAL is on disk up
-- to its own commit record, which lies after the create's: called once the create has
-- committed, it returns only when the create is durable. Any other transaction that saw the
-- booking and wrote (the pub's engine seating another party, the worker claiming its text)
-- commits after it the same way, so nothing is built on a booking that a crash could take
-- back; only a reader could see it in the millisecond before it is on disk, and the guest is
-- told nothing until then.
create or replace function public.tb_flush_wal() returns void
language sql volatile set search_path = public, pg_temp as $$
  select null::void from pg_catalog.pg_logical_emit_message(true, 'anchor.flush', '');
$$;

-- Change date, time, party size or requirements -------------------------------------------------
-- p_changes: any of date, time, party_size, special_requirements, dietary_requirements,
-- allergies, celebration_type. Guests (p_token_hash set) change only bookings that allow it.
create or replace function public.table_booking_update(
  p_reference text,
  p_token_hash text,
  p_changes jsonb,
  p_actor jsonb,
  p_client jsonb,
  p_now timestamptz,
  p_override boolean default false
) returns json
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  b public.table_bookings;
  v_date date;
  v_time time;
  v_party integer;
  v_start timestamptz;
  v_slot_changed boolean;
  v_old jsonb;
  v_new jsonb;
  v_before public.table_bookings;
  k text;
  v_duration integer;
  v_dep jsonb;
  v_seat record;
begin
  b := public.tb_booking_by_reference(p_reference, p_token_hash, true);
  v_before := b;
  perform public.tb_require_open(b, p_now);
  if p_token_hash is not null and not coalesce((b.refund_policy ->> 'modification_allowed')::boolean,
                                               true) then
    raise exception using errcode = 'P0001', message = 'POLICY_VIOLATION',
      detail = format('This booking cannot be changed online; please call us on %s.',
                      public.tb_config() ->> 'contact_phone'),
      hint = '{"reason": "MODIFICATION_NOT_ALLOWED"}';
  end if;

  v_date := coalesce((p_changes ->> 'date')::date, b.booking_date);
  v_time := coalesce((p_changes ->> 'time')::time, b.booking_time);
  v_party := coalesce((p_changes ->> 'party_size')::int, b.party_size);
  if b.booking_type = 'sunday_lunch' and v_party <> b.party_size then
    raise exception using errcode = 'P0001', message = 'POLICY_VIOLATION',
      detail = format('The number of guests for Sunday lunch goes with the roasts ordered and '
                      'the deposit; to change it please call us on %s.',
                      public.tb_config() ->> 'contact_phone'),
      hint = '{"reason": "SUNDAY_LUNCH_PARTY_SIZE"}';
  end if;
  if b.status = 'pending_payment' and v_party <> b.party_size then
    -- Its deposit and its PayPal order are for this party: pay first, or cancel and book again.
    raise exception using errcode = 'P0001', message = 'POLICY_VIOLATION',
      detail = format('This booking is waiting for its deposit of £%s, so the number of guests '
                      'cannot be changed until it is paid. Please call us on %s.',
                      public.tb_money(b.deposit_amount), public.tb_config() ->> 'contact_phone'),
      hint = '{"reason": "DEPOSIT_PENDING"}';
  end if;
  v_slot_changed := v_date <> b.booking_date or v_time <> b.booking_time
                    or v_party <> b.party_size;
  v_start := b.start_datetime;
  v_duration := b.duration_minutes;
  if v_slot_changed then
    v_start := public.tb_check_slot(b.booking_type, v_date, v_time, v_party, p_now, p_override,
                                    null, b.booking_purpose);
    if public.tb_venue_has_tables() then
      -- Re-seated by the same engine as a new booking (itself excluded), or refused.
      v_dep := public.tb_deposit_verdict(b.booking_type::text, v_party, v_date,
                                         b.booking_period_id, b.booking_period_answer,
                                         b.booking_purpose, b.deposit_waived,
                                         public.tb_config());
      if coalesce((v_dep ->> 'deposit_amount')::numeric, 0) > coalesce(b.deposit_amount, 0)
         and (v_dep ->> 'deposit_required')::boolean then
        raise exception using errcode = 'P0001', message = 'POLICY_VIOLATION',
          detail = format('A booking for %s on %s needs a deposit of £%s, so it cannot be '
                          'changed to that online; please call us on %s.',
                          v_party, public.tb_day_words(v_date),
                          public.tb_money((v_dep ->> 'deposit_amount')::numeric),
                          public.tb_config() ->> 'contact_phone'),
          hint = jsonb_build_object('reason', 'DEPOSIT_DUE',
                                    'deposit_amount', public.tb_money(
                                      (v_dep ->> 'deposit_amount')::numeric))::text;
      end if;
      perform public.tb_lock_floor();
      select * into v_seat
      from public.tb_seat_verdict(v_date, v_time, v_start, v_party, b.booking_purpose,
                                  case when p_actor ->> 'kind' = 'staff' then 'staff'
                                       else 'online' end,
                                  b.is_outside_seating, b.requires_accessible_table,
                                  b.high_chair_count, null, false, p_now, b.id);
      if v_seat.reason is not null then
        perform public.tb_refuse_seat(v_seat.reason, v_date, v_time);
      end if;
      v_duration := v_seat.guest_minutes;
      -- The tables first: the pub's trigger refuses a party larger than its tables' seats.
      perform public.tb_seat_booking(
        b.id, v_seat.table_ids, v_start,
        v_start + make_interval(mins => v_seat.guest_minutes + v_seat.turnaround_minutes),
        b.is_outside_seating, v_party);
    else
      perform public.tb_claim_covers(array[b.booking_date, v_date], v_date, v_time, v_start,
                                     b.duration_minutes, b.booking_type, v_party, p_now, b.id);
    end if;
  end if;

  v_old := jsonb_build_object(
    'date', to_char(b.booking_date, 'YYYY-MM-DD'), 'time', to_char(b.booking_time, 'HH24:MI'),
    'party_size', b.party_size, 'special_requirements', b.special_requirements,
    'dietary_requirements', to_jsonb(b.dietary_requirements), 'allergies', to_jsonb(b.allergies),
    'celebration_type', b.celebration_type);

  update public.table_bookings set
    booking_date = v_date,
    booking_time = v_time,
    party_size = v_party,
    -- The covers the kitchen plans for follow the party, as in the pub's app: a guest's own
    -- change inside the last 72 hours before the start keeps the covers already committed.
    committed_party_size = case
      when p_token_hash is not null and b.start_datetime - p_now <= interval '72 hours'
        then committed_party_size
      else v_party end,
    start_datetime = v_start,
    duration_minutes = v_duration,
    end_datetime = v_start + make_interval(mins => v_duration),
    special_requirements = case when p_changes ? 'special_requirements'
                                then nullif(p_changes ->> 'special_requirements', '')
                                else special_requirements end,
    dietary_requirements = case when p_changes ? 'dietary_requirements'
                                then array(select jsonb_array_elements_text(
                                       p_changes -> 'dietary_requirements'))
                                else dietary_requirements end,
    allergies = case when p_changes ? 'allergies'
                     then array(select jsonb_array_elements_text(p_changes -> 'allergies'))
                     else allergies end,
    celebration_type = case when p_changes ? 'celebration_type'
                            then nullif(p_changes ->> 'celebration_type', '')
                            else celebration_type end,
    -- A new date or time needs a new reminder.
    reminder_sent = case when v_date <> booking_date or v_time <> booking_time then false
                         else reminder_sent end
  where id = b.id
  returning * into b;
  perform public.tb_booking_written(v_before, b);

  v_new := jsonb_build_object(
    'date', to_char(b.booking_date, 'YYYY-MM-DD'), 'time', to_char(b.booking_time, 'HH24:MI'),
    'party_size', b.party_size, 'special_requirements', b.special_requirements,
    'dietary_requirements', to_jsonb(b.dietary_requirements), 'allergies', to_jsonb(b.allergies),
    'celebration_type', b.celebration_type);
  if v_new = v_old then
    return public.table_booking_detail(b.booking_reference, p_token_hash, p_now);
  end if;

  update public.table_bookings set
    modification_count = coalesce(modification_count, 0) + 1,
    original_booking_data = coalesce(original_booking_data, v_old)
  where id = b.id;
  if b.booking_date <> (v_old ->> 'date')::date then
    -- The counters' trigger follows status changes only; a moved booking moves the date too.
    update public.customers c set last_table_booking_date = (
      select max(t.booking_date) from public.table_bookings t
      where t.customer_id = c.id and t.status in ('confirmed', 'completed', 'no_show'))
    where c.id = b.customer_id;
  end if;
  for k in select key from jsonb_each(v_new) where v_new -> key is distinct from v_old -> key
  loop
    insert into public.table_booking_modifications (
      booking_id, modified_by, modification_type, old_values, new_values)
    values (
      b.id, case when p_actor ->> 'kind' = 'staff' then (p_actor ->> 'id')::uuid end,
      case k when 'date' then 'date_change' when 'time' then 'time_change'
             when 'party_size' then 'party_size' else 'requirements' end,
      jsonb_build_object(k, v_old -> k), jsonb_build_object(k, v_new -> k));
  end loop;
  perform public.tb_audit(
    'table_booking.updated', b.id, 'success', p_actor, p_client, v_old, v_new,
    jsonb_build_object('booking_reference', b.booking_reference, 'booking_type', b.booking_type,
                       'party_size', b.party_size, 'booking_date', b.booking_date,
                       'source', b.source));
  if p_override then
    perform public.tb_audit(
      'table_booking.policy_override', b.id, 'success', p_actor, p_client, v_old, v_new,
      jsonb_build_object('booking_reference', b.booking_reference, 'overrides',
                         jsonb_build_array('minimum_notice', 'sunday_lunch_cut_off')),
      null, 'table_booking_override');
  end if;
  -- The caller's own view: a guest sees their booking, not the staff view of the customer.
  return public.table_booking_detail(b.booking_reference, p_token_hash, p_now);
end
$$;

-- Refuse to change a booking that is over, cancelled, started, or whose payment time ran out.
create or replace function public.tb_require_open(b public.table_bookings, p_now timestamptz)
returns void
language plpgsql stable security definer set search_path = public, pg_temp as $$
begin
  if b.status not in ('confirmed', 'pending_payment') then
    raise exception using errcode = 'P0001', message = 'BOOKING_NOT_MODIFIABLE',
      detail = case when b.status = 'cancelled' then 'This booking has been cancelled.'
                    else format('This booking is %s and can no longer be changed.',
                                replace(b.status::text, '_', '-')) end,
      hint = jsonb_build_object('status', b.status)::text;
  end if;
  if b.status = 'pending_payment' and b.hold_expires_at is not null
     and b.hold_expires_at <= p_now then
    raise exception using errcode = 'P0001', message = 'BOOKING_NOT_MODIFIABLE',
      detail = 'The time to pay the deposit for this booking ran out, so the table was released.',
      hint = '{"status": "pending_payment", "reason": "HOLD_EXPIRED"}';
  end if;
  if b.start_datetime <= p_now then
    raise exception using errcode = 'P0001', message = 'BOOKING_NOT_MODIFIABLE',
      detail = 'This booking has already started.',
      hint = jsonb_build_object('status', b.status, 'reason', 'STARTED')::text;
  end if;
end
$$;

-- Cancel ------------------------------------------------------------------------------------------
-- The refund due follows the terms copied onto the booking; sending it is the payment step's
-- work, so here it is recorded on the payment (payment_metadata.refund_due) and queued by
-- tb_booking_written. Nothing paid is a refund of 0%; an override's percentage is the share it
-- refunds; an override on a booking with nothing paid says so.
create or replace function public.table_booking_cancel(
  p_reference text,
  p_token_hash text,
  p_reason text,
  p_actor jsonb,
  p_client jsonb,
  p_now timestamptz,
  p_refund_override numeric default null
) returns json
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  b public.table_bookings;
  v_after public.table_bookings;
  v_paid numeric;
  v_refunded numeric;
  v_refund record;
begin
  b := public.tb_booking_by_reference(p_reference, p_token_hash, true);
  if b.status not in ('confirmed', 'pending_payment') then
    raise exception using errcode = 'P0001', message = 'BOOKING_NOT_MODIFIABLE',
      detail = case when b.status = 'cancelled' then 'This booking has already been cancelled.'
                    else format('This booking is %s and can no longer be cancelled.',
                                replace(b.status::text, '_', '-')) end,
      hint = jsonb_build_object('status', b.status)::text;
  end if;
  if p_token_hash is not null and b.start_datetime <= p_now then
    raise exception using errcode = 'P0001', message = 'BOOKING_NOT_MODIFIABLE',
      detail = 'This booking has already started; please speak to us at the pub.',
      hint = jsonb_build_object('status', b.status, 'reason', 'STARTED')::text;
  end if;

  -- The policy's share of the deposit paid, less what was already refunded (say a goodwill
  -- refund made at PayPal), never below nothing.
  select coalesce(sum(amount), 0), coalesce(sum(refund_amount), 0) into v_paid, v_refunded
  from public.table_booking_payments
   where booking_id = b.id and status in ('completed', 'partial_refund');
  select * into v_refund from public.tb_refund_due(b.refund_policy, v_paid, b.start_datetime,
                                                   p_now);
  v_refund.amount := greatest(v_refund.amount - v_refunded, 0);
  if v_paid - v_refunded <= 0 then
    v_refund.percentage := 0;  -- nothing to refund a share of
  end if;
  if p_refund_override is not null then
    -- Staff with the cancel permission may refund another amount than the policy's; audited.
    if p_actor ->> 'kind' <> 'staff' or p_refund_override < 0
       or p_refund_override > v_paid - v_refunded then
      raise exception using errcode = 'P0001', message = 'VALIDATION_ERROR',
        detail = case when v_paid - v_refunded <= 0
                      then case when v_paid > 0
                                then 'The payment for this booking has already been refunded '
                                     'in full, so there is nothing left to refund.'
                                else 'Nothing has been paid for this booking, so there is '
                                     'nothing to refund.' end
                      else format('The refund must be between 0.00 and the %s paid and not '
                                  'yet refunded.', public.tb_money(v_paid - v_refunded)) end,
        hint = '[{"field": "refund_amount", "message": "out of range"}]';
    end if;
    perform public.tb_audit('payment.refund_override', b.id, 'success', p_actor, p_client,
      jsonb_build_object('refund_due', public.tb_money(v_refund.amount)),
      jsonb_build_object('refund_due', public.tb_money(p_refund_override)),
      jsonb_build_object('booking_reference', b.booking_reference));
    v_refund.amount := p_refund_override;
    v_refund.percentage := round(p_refund_override * 100 / (v_paid - v_refunded))::int;
  end if;
  -- The payment first: the status change below queues the refund from refund_due.
  update public.table_booking_payments set
    status = case when status = 'pending' then 'failed'::public.payment_status else status end,
    payment_metadata = coalesce(payment_metadata, '{}'::jsonb) || case
      when status in ('completed', 'partial_refund') then jsonb_build_object(
        'refund_due', public.tb_money(v_refund.amount),
        'refund_percentage', v_refund.percentage, 'refund_computed_at', p_now)
      else jsonb_build_object('closed_reason', 'booking_cancelled') end
  where booking_id = b.id and status in ('pending', 'completed', 'partial_refund');
  update public.table_bookings set
    status = 'cancelled',
    cancelled_at = p_now,
    cancellation_reason = nullif(p_reason, ''),
    cancelled_by = coalesce(p_actor ->> 'kind', 'system'),
    hold_expires_at = null
  where id = b.id
  returning * into v_after;
  perform public.tb_booking_written(b, v_after);
  perform public.table_booking_deposit_sync(b.id, p_now);  -- its payment hold is released

  perform public.tb_audit(
    'table_booking.cancelled', b.id, 'success', p_actor, p_client,
    jsonb_build_object('status', b.status),
    jsonb_build_object('status', 'cancelled', 'reason', nullif(p_reason, '')),
    jsonb_build_object('booking_reference', b.booking_reference, 'booking_type', b.booking_type,
                       'party_size', b.party_size, 'booking_date', b.booking_date,
                       'source', b.source, 'paid_amount', public.tb_money(v_paid),
                       'refund_percentage', v_refund.percentage,
                       'refund_amount', public.tb_money(v_refund.amount)));
  return json_build_object(
    'booking_id', b.id,
    'booking_reference', b.booking_reference,
    'status', 'cancelled',
    'cancelled_at', public.tb_london_iso(p_now),
    'refund', json_build_object(
      'eligible', v_refund.amount > 0,
      'percentage', v_refund.percentage,
      'amount', public.tb_money(v_refund.amount),
      'paid_amount', public.tb_money(v_paid),
      'currency', 'GBP'));
end
$$;

-- completed, like no_show, only after the start.
create or replace function public.table_booking_set_status(
  p_reference text,
  p_status text,
  p_actor jsonb,
  p_client jsonb,
  p_now timestamptz
) returns json
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  b public.table_bookings;
begin
  b := public.tb_booking_by_reference(p_reference, null, true);
  if p_status not in ('completed', 'no_show') then
    raise exception using errcode = 'P0001', message = 'VALIDATION_ERROR',
      detail = 'The status can be set to completed or no_show.',
      hint = '[{"field": "status", "message": "completed or no_show"}]';
  end if;
  if b.status <> 'confirmed' then
    raise exception using errcode = 'P0001', message = 'BOOKING_NOT_MODIFIABLE',
      detail = format('Only a confirmed booking can be marked %s; this one is %s.',
                      replace(p_status, '_', '-'), replace(b.status::text, '_', '-')),
      hint = jsonb_build_object('status', b.status)::text;
  end if;
  -- Neither a no-show nor completed before the booking has started.
  if b.start_datetime > p_now then
    raise exception using errcode = 'P0001', message = 'POLICY_VIOLATION',
      detail = format('A booking can be marked %s only after it starts (%s).',
                      case p_status when 'no_show' then 'as a no-show' else p_status end,
                      to_char(b.booking_time, 'HH24:MI')),
      hint = '{"reason": "NOT_STARTED"}';
  end if;
  update public.table_bookings set
    status = p_status::public.table_booking_status,
    completed_at = case when p_status = 'completed' then p_now else completed_at end,
    no_show_at = case when p_status = 'no_show' then p_now else no_show_at end,
    no_show_marked_at = case when p_status = 'no_show' then p_now else no_show_marked_at end,
    no_show_marked_by = case when p_status = 'no_show' and p_actor ->> 'kind' = 'staff'
                             then (p_actor ->> 'id')::uuid else no_show_marked_by end
  where id = b.id;
  perform public.tb_audit(
    'table_booking.status_changed', b.id, 'success', p_actor, p_client,
    jsonb_build_object('status', b.status), jsonb_build_object('status', p_status),
    jsonb_build_object('booking_reference', b.booking_reference, 'booking_type', b.booking_type,
                       'party_size', b.party_size, 'booking_date', b.booking_date,
                       'source', b.source));
  return public.table_booking_detail(b.booking_reference, null, p_now);
end
$$;

-- POST /api/table-bookings for an API key, in one round trip: {auth, data, error}.
-- auth is what api_key_authenticate returns (null: no such key, nothing done). data is
-- table_booking_create's answer; it is null when the key lacks p_scope (the service answers
-- 403 from auth.permissions), when a limit refused the request, or when the create was refused,
-- in which case error is {sqlstate, message, detail, hint} of the refusal, for the service to
-- answer as if the create had raised it. The request is counted against the key's limits either
-- way. p_request is table_booking_create's, except that the actor is this key and
-- idempotency.key is only the digest of the caller's Idempotency-Key (the row key is scoped to
-- the key here, as app.services.bookings.idempotency_row_key scopes it).
create or replace function public.table_booking_create_for_key(
  p_key_hash text,
  p_now timestamptz,
  p_scope text,
  p_limits jsonb,
  p_request jsonb
) returns jsonb
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  k public.api_keys;
  v_request jsonb;
  v_data jsonb;
  v_auth jsonb;
  v_state text;
  v_message text;
  v_detail text;
  v_hint text;
begin
  k := public.tb_key_lookup(p_key_hash, p_now);
  if k.id is null then
    return jsonb_build_object('auth', null, 'data', null, 'error', null);
  end if;
  if public.tb_scope_allows(k.permissions, p_scope) then
    v_request := jsonb_set(p_request, '{actor}',
                           jsonb_build_object('kind', 'api_key', 'id', k.id, 'name', k.name));
    if p_request ? 'idempotency' then
      v_request := jsonb_set(v_request, '{idempotency,key}', to_jsonb(
        'table_booking_create:api_key:' || k.id || ':' || (p_request #>> '{idempotency,key}')));
    end if;
    begin
      v_data := public.table_booking_create(v_request, p_now);
      -- Counted last, so the key's counter row is locked only until the commit.
      v_auth := public.tb_key_count(k, p_now, p_limits);
      if jsonb_typeof(v_auth -> 'limited') = 'null' then
        return jsonb_build_object('auth', v_auth, 'data', v_data, 'error', null);
      end if;
      -- Over a limit: undo the booking (and this count, made again below).
      raise exception using errcode = 'P0001', message = 'TB_KEY_LIMITED';
    exception when others then
      get stacked diagnostics v_state = returned_sqlstate, v_message = message_text,
                              v_detail = pg_exception_detail, v_hint = pg_exception_hint;
    end;
  end if;
  -- Nothing was created; only the count is written, so its commit need not wait for the WAL.
  perform set_config('synchronous_commit', 'off', true);
  v_auth := public.tb_key_count(k, p_now, p_limits);
  return jsonb_build_object(
    'auth', v_auth,
    'data', null,
    'error', case when v_state is not null and v_message is distinct from 'TB_KEY_LIMITED'
                  then jsonb_build_object('sqlstate', v_state, 'message', v_message,
                                          'detail', nullif(v_detail, ''),
                                          'hint', nullif(v_hint, '')) end);
end
$$;

-- The staff member's id where the pub's consent ledger may name them: the ledger's
-- captured_by_user_id references the pub's profiles, which its sign-up trigger fills. A staff user
-- without a profile row (made some other way) is left unnamed there rather than failing the
-- booking; the audit row still names them.
create or replace function public.tb_staff_profile(p_user_id uuid) returns uuid
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  v uuid;
begin
  if p_user_id is null or to_regclass('public.profiles') is null then
    return p_user_id;
  end if;
  execute 'select id from public.profiles where id = $1' into v using p_user_id;
  return v;
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
  if to_regprocedure('public.record_customer_consent(uuid, text, text, text, text, text, text, '
                     'text, text, uuid, text, text, text, text, text, jsonb, boolean)') is not null
  then
    select sms_opt_in, sms_status into c from public.customers where id = p_customer_id for update;
    if not found or c.sms_status is not distinct from 'opted_out' then
      -- Opted out stays opted out (and a "no" from someone already out records nothing new).
      return;
    end if;
    perform public.record_customer_consent(
      p_customer_id => p_customer_id, p_channel => 'sms', p_purpose => 'service',
      p_status => case when p_opt_in then 'opted_in' else 'opted_out' end,
      p_legal_basis => 'consent',
      p_source => case when v_staff then 'staff_table_booking' else 'public_table_booking' end,
      p_capture_method => case when v_staff then 'staff_verbal' else 'checkbox' end,
      p_consent_text_version => 'anchor-table-bookings-sms-v1',
      p_captured_by_user_id => case when v_staff
                                    then public.tb_staff_profile((p_actor ->> 'id')::uuid) end,
      p_related_entity_type => 'table_booking', p_related_entity_id => p_booking_id::text,
      p_metadata => jsonb_build_object('service', 'anchor-table-bookings'));
  -- Without the ledger, the summary columns; opted out stays opted out, and a row that already
  -- says so is not written again (the update's conditions are judged on the row as it is when
  -- the update locks it).
  elsif p_opt_in then
    update public.customers set
      sms_opt_in = true, sms_status = 'active',
      sms_opt_in_at = case when sms_opt_in is distinct from true then now() else sms_opt_in_at end,
      sms_opt_in_source = case when sms_opt_in is distinct from true then 'table_booking'
                               else sms_opt_in_source end
    where id = p_customer_id and sms_status is distinct from 'opted_out'
      and (sms_opt_in is distinct from true or sms_status is distinct from 'active');
  else
    update public.customers set
      sms_opt_in = false, sms_status = 'opted_out',
      sms_opted_out_at = case when sms_opt_in is distinct from false then now()
                              else sms_opted_out_at end
    where id = p_customer_id and sms_status is distinct from 'opted_out';
  end if;
end
$$;
create or replace function public.tb_booking_written(
  p_old public.table_bookings,
  p_new public.table_bookings
) returns void
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  v_due numeric;
begin
  if p_new.manage_token_hash is not null then
    if p_old.id is null then
      perform public.tb_queue_notification(p_new.id, 'created');
    elsif p_new.status is distinct from p_old.status then
      if p_new.status = 'confirmed' and p_old.status = 'pending_payment' then
        perform public.tb_queue_notification(p_new.id, 'confirmed');
      elsif p_new.status = 'cancelled' then
        perform public.tb_queue_notification(p_new.id, 'cancelled');
      end if;
    elsif p_new.status in ('confirmed', 'pending_payment')
          and ((p_new.booking_date, p_new.booking_time, p_new.party_size)
                 is distinct from (p_old.booking_date, p_old.booking_time, p_old.party_size)
               or (p_new.special_requirements, p_new.dietary_requirements, p_new.allergies,
                   p_new.celebration_type)
                 is distinct from (p_old.special_requirements, p_old.dietary_requirements,
                                   p_old.allergies, p_old.celebration_type)) then
      perform public.tb_queue_notification(p_new.id, 'updated',
                                           coalesce(p_new.modification_count, 0)::text
                                           || ':' || to_char(p_new.updated_at, 'YYYYMMDDHH24MISSUS'));
    end if;
  end if;
  -- A booking that counted and is cancelled no longer counts: the pub's counter (its trigger)
  -- never takes one back; ours does, for the cancels this service makes (README, "Where we differ
  -- from the pub's engine"). Nothing else of the pub's counter is touched.
  if p_old.id is not null and p_new.status = 'cancelled' and p_old.status = 'confirmed'
     and p_new.customer_id is not null then
    update public.customers set table_booking_count = greatest(coalesce(table_booking_count, 0) - 1, 0)
     where id = p_new.customer_id;
  end if;
  -- A paid booking that is cancelled gets its refund queued (the amount the cancel computed); a
  -- refund due on a payment PayPal cannot refund (no capture id: paid another way, or recorded
  -- by hand) is not left unsaid: it goes to staff at once.
  if p_old.id is not null and p_new.status = 'cancelled'
     and p_old.status is distinct from 'cancelled' then
    select (p.payment_metadata ->> 'refund_due')::numeric into v_due
      from public.table_booking_payments p
     where p.booking_id = p_new.id and p.status in ('completed', 'partial_refund')
     order by p.created_at desc limit 1;
    if v_due > 0 and p_new.paypal_deposit_capture_id is not null
       and p_new.payment_status in ('completed', 'partial_refund') then
      perform public.tb_queue_refund(
        p_new.id, p_new.paypal_deposit_capture_id, v_due,
        'cancellation', 'Refund for your cancelled table booking at The Anchor.');
    elsif v_due > 0 then
      perform public.table_booking_refund_failed(
        p_new.id, 'no PayPal capture to refund', coalesce(p_new.cancelled_at, now()));
    end if;
  end if;
end
$$;

create or replace function public.tb_limit_unpaid_holds(
  p_client text,
  p_customer uuid,
  p_date date,
  p_time time,
  p_start timestamptz,
  p_duration_minutes integer,
  p_party_size integer,
  p_now timestamptz,
  p_cfg jsonb,
  p_booking_id uuid
) returns void
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  v_per_phone integer := public.tb_setting_int('sunday_lunch_unpaid_holds_per_phone', 2);
  v_per_client integer := public.tb_setting_int('sunday_lunch_unpaid_holds_per_client', 10);
  v_share integer := public.tb_setting_int('sunday_lunch_unpaid_share_percent', 50);
  v_step integer := greatest((p_cfg ->> 'slot_interval_minutes')::int, 5);
  v_held integer;
  v_first_expiry timestamptz;
  v_room integer;
begin
  perform pg_advisory_xact_lock(hashtextextended('table_bookings:unpaid:' || p_customer, 0));
  select count(*), min(b.hold_expires_at) into v_held, v_first_expiry
  from public.table_bookings b
  where b.customer_id = p_customer and b.status = 'pending_payment'
    and b.hold_expires_at > p_now and b.id <> p_booking_id;
  if v_held >= v_per_phone then
    raise exception using errcode = 'P0001', message = 'RATE_LIMIT_EXCEEDED',
      detail = format('This phone number already has %s %s waiting for the '
                      'deposit. Please pay for %s first, or call us on %s.', v_held,
                      case when v_held = 1 then 'booking' else 'bookings' end,
                      case when v_held = 1 then 'it' else 'one of them' end, p_cfg ->> 'contact_phone'),
      hint = jsonb_build_object('reason', 'UNPAID_HOLDS_PER_PHONE', 'limit', v_per_phone,
                                'reset_at', v_first_expiry,
                                'retry_after', ceil(extract(epoch from v_first_expiry - p_now))
                               )::text;
  end if;
  if p_client is not null then
    perform pg_advisory_xact_lock(hashtextextended('table_bookings:unpaid:' || p_client, 0));
    select count(*), min(b.hold_expires_at) into v_held, v_first_expiry
    from public.table_booking_unpaid_holds h
    join public.table_bookings b on b.id = h.booking_id
    where h.client = p_client and b.status = 'pending_payment' and b.hold_expires_at > p_now
      and b.id <> p_booking_id;
    if v_held >= v_per_client then
      raise exception using errcode = 'P0001', message = 'RATE_LIMIT_EXCEEDED',
        detail = format('Too many bookings are waiting for their deposit. Please '
                        'try again in a few minutes, or call us on %s.', p_cfg ->> 'contact_phone'),
        hint = jsonb_build_object('reason', 'UNPAID_HOLDS_PER_CLIENT', 'limit', v_per_client,
                                  'reset_at', v_first_expiry,
                                  'retry_after', ceil(extract(epoch from v_first_expiry - p_now))
                                 )::text;
    end if;
  end if;
  -- The share: every slot whose time overlaps this booking's keeps it, counted as the
  -- capacity rule counts (each booking overlapping the slot's time holds its covers for all of
  -- it). Unpaid creates of one day are decided one after the other (one lock per day, taken
  -- after the claim's half-hour locks, so no two creates wait on each other in a cycle).
  perform pg_advisory_xact_lock(hashtextextended('table_bookings:unpaid:day:' || p_date, 0));
  select min(w.allowed - w.held) into v_room
  from (
    select floor(public.tb_slot_capacity(
                   p_date, (s.at at time zone 'Europe/London')::time, 'sunday_lunch',
                   (p_cfg ->> 'capacity')::int) * v_share / 100.0)::integer as allowed,
           coalesce((
             select sum(b.party_size)
             from public.table_bookings b
             where public.tb_booking_span(b.booking_date, b.booking_time, b.start_datetime,
                                          b.end_datetime, b.duration_minutes)
                   && public.tb_span(s.at, s.at + make_interval(mins => p_duration_minutes))
               and b.status = 'pending_payment'
               and b.booking_date - p_date between -1 and 1
               and b.hold_expires_at > p_now and b.id <> p_booking_id), 0)::integer as held
    from generate_series(
      p_start - make_interval(mins => p_duration_minutes - v_step),
      p_start + make_interval(mins => p_duration_minutes - v_step),
      make_interval(mins => v_step)) as s(at)
  ) w;
  if v_room < p_party_size then
    raise exception using errcode = 'P0001', message = 'NO_AVAILABILITY',
      detail = format('Sorry, no more tables can be held for payment at %s on %s. '
                      'Please choose another time, or call us on %s.',
                      to_char(p_time, 'HH24:MI'), public.tb_day_words(p_date),
                      p_cfg ->> 'contact_phone'),
      hint = jsonb_build_object('reason', 'UNPAID_HOLDS',
                                'available_capacity', greatest(v_room, 0))::text;
  end if;
end
$$;

-- Every function of this file: executable by service_role only.
select table_booking_service.service_role_only(array[
  'public.tb_audit',
  'public.table_booking_audit_refusal',
  'public.tb_resolve_customer',
  'public.tb_money',
  'public.tb_refund_due',
  'public.table_booking_create',
  'public.table_booking_update',
  'public.tb_require_open',
  'public.table_booking_cancel',
  'public.table_booking_set_status',
  'public.table_booking_create_for_key',
  'public.tb_flush_wal',
  'public.tb_record_sms_consent',
  'public.tb_staff_profile',
  'public.tb_booking_written',
  'public.tb_limit_unpaid_holds'
]);
