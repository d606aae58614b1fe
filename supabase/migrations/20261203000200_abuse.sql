-- Issue 14, the abuser: bounds on unpaid Sunday lunch holds, PayPal refusals that store no
-- body and are rate limited, and a webhook log that is pruned.
--
-- 1. Unpaid holds. A Sunday lunch holds its covers unpaid for sunday_lunch_payment_hold_minutes
--    (30), so seven creates with fresh numbers could close every Sunday slot, again and again.
--    Now, for creates that are not staff's: at most sunday_lunch_unpaid_holds_per_phone (2)
--    live unpaid holds per customer (phone number), at most sunday_lunch_unpaid_holds_per_client
--    (10) per API key, and in every slot the booking's time overlaps, unpaid covers at most
--    sunday_lunch_unpaid_share_percent (50) of the slot's covers. All three are checked inside
--    the create transaction, under locks (per phone, per key, per day), so parallel creates
--    cannot exceed them.
-- 2. paypal_webhook_refused: a delivery refused before its signature was good is logged without
--    its body, at most p_log_limit a minute per client address; past p_limit refusals a minute
--    from one address the service answers 429 (and writes nothing).
-- 3. table_booking_request_stats_prune (the monitoring cron's housekeeping) also deletes the
--    PayPal webhook log rows older than 30 days, and refused ones older than 7.

create table if not exists public.table_booking_unpaid_holds (
  booking_id uuid primary key references public.table_bookings (id) on delete cascade,
  client text not null,
  created_at timestamptz not null default now()
);
create index if not exists idx_table_booking_unpaid_holds_client
  on public.table_booking_unpaid_holds (client);
alter table public.table_booking_unpaid_holds enable row level security;
grant select, insert, update, delete on table public.table_booking_unpaid_holds to service_role;

create index if not exists idx_table_bookings_unpaid_holds
  on public.table_bookings (customer_id, hold_expires_at)
  where status = 'pending_payment';

insert into public.system_settings (key, value, description) values
  ('sunday_lunch_unpaid_holds_per_phone', '{"value": 2}',
   'Sunday lunch bookings one phone number may hold unpaid at once (staff exempt).'),
  ('sunday_lunch_unpaid_holds_per_client', '{"value": 10}',
   'Sunday lunch bookings one API key may hold unpaid at once (staff exempt).'),
  ('sunday_lunch_unpaid_share_percent', '{"value": 50}',
   'The share (%) of a slot''s covers that unpaid Sunday lunch holds may take (staff exempt).')
on conflict (key) do nothing;

-- An integer setting ({"value": 2} or 2); anything else (a typo in the pub's app) is the default,
-- never an error on every create.
create or replace function public.tb_setting_int(p_key text, p_default integer)
returns integer
language sql stable security definer set search_path = public, pg_temp as $$
  select coalesce(
    (select case when jsonb_typeof(v) = 'number' then floor((v #>> '{}')::numeric)::integer end
     from (select case when jsonb_typeof(value) = 'object' then value -> 'value' else value end
           from public.system_settings where key = p_key) s(v)),
    p_default)
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
  p_cfg jsonb
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
    and b.hold_expires_at > p_now;
  if v_held >= v_per_phone then
    raise exception using errcode = 'P0001', message = 'RATE_LIMIT_EXCEEDED',
      detail = format('This phone number already has %s Sunday lunch %s waiting for the '
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
    where h.client = p_client and b.status = 'pending_payment' and b.hold_expires_at > p_now;
    if v_held >= v_per_client then
      raise exception using errcode = 'P0001', message = 'RATE_LIMIT_EXCEEDED',
        detail = format('Too many Sunday lunch bookings are waiting for their deposit. Please '
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
               and b.hold_expires_at > p_now), 0)::integer as held
    from generate_series(
      p_start - make_interval(mins => p_duration_minutes - v_step),
      p_start + make_interval(mins => p_duration_minutes - v_step),
      make_interval(mins => v_step)) as s(at)
  ) w;
  if v_room < p_party_size then
    raise exception using errcode = 'P0001', message = 'NO_AVAILABILITY',
      detail = format('Sorry, no more Sunday lunch tables can be held for payment at %s on %s. '
                      'Please choose another time, or call us on %s.',
                      to_char(p_time, 'HH24:MI'), public.tb_day_words(p_date),
                      p_cfg ->> 'contact_phone'),
      hint = jsonb_build_object('reason', 'UNPAID_HOLDS',
                                'available_capacity', greatest(v_room, 0))::text;
  end if;
end
$$;

-- From 20261124001800_create_path.sql: the unpaid holds bounded (item 1), and a key's hold
-- recorded for the count per key.
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
  -- What a replay needs besides the answer (app.services.tokens.seal).
  v_sealed jsonb := jsonb_build_object('manage_token_sealed',
                                       p_request ->> 'manage_token_sealed');
begin
  -- The answer, but a Sunday lunch's payment details, is known before anything is written.
  v_id := gen_random_uuid();
  v_reference := public.generate_booking_reference();
  v_status := case when v_type = 'sunday_lunch' then 'pending_payment' else 'confirmed' end;
  v_response := jsonb_build_object(
    'booking_id', v_id,
    'booking_reference', v_reference,
    'status', v_status,
    'booking_type', v_type,
    'date', to_char(v_date, 'YYYY-MM-DD'),
    'time', to_char(v_time, 'HH24:MI'),
    'party_size', v_party,
    'duration_minutes', v_duration,
    'payment_required', v_type = 'sunday_lunch');

  -- Idempotency: the claim is this transaction's row in idempotency_keys. A parallel request
  -- with the same key waits on it, then replays the committed response; if this transaction
  -- fails, the claim disappears with it and the key can be used again. A table's claim holds
  -- its final response from the start; a Sunday lunch's is written when its payment details
  -- are known, at the end.
  if v_idem_key is not null then
    -- An expired row is taken over in the same statement.
    insert into public.idempotency_keys as i (key, request_hash, response, expires_at)
    values (v_idem_key, v_idem_hash,
            case when v_type = 'sunday_lunch'
                 then jsonb_build_object('state', 'processing', 'claimed_at', p_now)
                 else v_response || v_sealed end,
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

  v_start := public.tb_check_slot(v_type, v_date, v_time, v_party, p_now, v_override, cfg);

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

  perform public.tb_claim_covers(array[v_date], v_date, v_time, v_start, v_duration, v_type,
                                 v_party, p_now, null, (cfg ->> 'capacity')::int);
  -- Unpaid holds are bounded (after the claim, whose half-hour locks make the share exact).
  if v_type = 'sunday_lunch' and p_request #>> '{actor,kind}' is distinct from 'staff' then
    v_client := case when p_request #>> '{actor,kind}' = 'api_key'
                     then 'api_key:' || (p_request #>> '{actor,id}') end;
    perform public.tb_limit_unpaid_holds(v_client, v_customer, v_date, v_time, v_start,
                                         v_duration, v_party, p_now, cfg);
  end if;

  select * into v_policy from public.booking_policies where booking_type = v_type;
  if v_type = 'sunday_lunch' then
    v_deposit := (cfg ->> 'deposit_per_guest')::numeric * v_party;
    -- The hold never outlasts the booking itself.
    v_hold := least(p_now + make_interval(mins => (cfg ->> 'payment_hold_minutes')::int),
                    v_start);
  end if;
  insert into public.table_bookings (
    id, booking_reference, customer_id, booking_date, booking_time, party_size, booking_type,
    status, duration_minutes, special_requirements, dietary_requirements, allergies,
    celebration_type, source, confirmed_at, hold_expires_at, start_datetime, end_datetime,
    manage_token_hash, refund_policy, deposit_amount, payment_status, policy_override,
    reminder_sent, created_at)
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
    v_deposit, case when v_type = 'sunday_lunch' then 'pending'::public.payment_status end,
    v_override, false, p_now);

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
    if v_client is not null then
      insert into public.table_booking_unpaid_holds (booking_id, client) values (v_id, v_client);
    end if;
    insert into public.table_booking_payments (
      booking_id, payment_method, amount, currency, status, payment_metadata)
    values (v_id, 'paypal', v_deposit, 'GBP', 'pending', jsonb_build_object(
      'payment_type', 'deposit', 'deposit_amount', public.tb_money(v_deposit),
      'total_amount', public.tb_money(v_total),
      'outstanding_amount', public.tb_money(greatest(v_total - v_deposit, 0))));
  end if;

  if v_type = 'sunday_lunch' then
    v_response := v_response || jsonb_build_object('payment_details', jsonb_build_object(
      'deposit_amount', public.tb_money(v_deposit),
      'total_amount', public.tb_money(v_total),
      'outstanding_amount', public.tb_money(greatest(v_total - v_deposit, 0)),
      'currency', 'GBP',
      'payment_url', null,
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

  if v_idem_key is not null and v_type = 'sunday_lunch' then
    update public.idempotency_keys
       set response = v_response || v_sealed
     where key = v_idem_key;
  end if;
  return v_response || jsonb_build_object('customer_id', v_customer);
end
$$;

-- A refused delivery from p_client: 'limited' past p_limit this minute (nothing written),
-- 'logged' for the first p_log_limit (a row without the body), else 'unlogged'.
create or replace function public.paypal_webhook_refused(
  p_client text, p_status text, p_headers jsonb, p_error text, p_body_bytes integer,
  p_log_limit integer, p_limit integer, p_now timestamptz
) returns text
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  v_rate record;
begin
  select * into v_rate from public.tb_rate_hit(
    'paypal_webhook_refused:' || coalesce(p_client, 'unknown'), p_limit, 60, p_now);
  if not v_rate.allowed then
    return 'limited';
  end if;
  if v_rate.hit_limit - v_rate.remaining > p_log_limit then
    return 'unlogged';
  end if;
  insert into public.webhook_logs (webhook_type, status, headers, body, params, error_message)
  values ('paypal', p_status, p_headers, null,
          jsonb_build_object('body_bytes', p_body_bytes, 'client_ip', p_client),
          left(p_error, 500));
  return 'logged';
end
$$;

-- From 20261124001700_prune_counters.sql: PayPal's webhook log is pruned too (item 3).
create or replace function public.table_booking_request_stats_prune(p_now timestamptz)
returns integer
language sql volatile security definer set search_path = public, pg_temp as $$
  with gone as (
    delete from public.table_booking_request_stats where created_at < p_now - interval '8 days'
    returning 1),
  counters as (
    delete from public.api_rate_counters where window_start < p_now - interval '1 day'
    returning 1),
  webhooks as (
    delete from public.webhook_logs
    where webhook_type = 'paypal'
      and (processed_at < p_now - interval '30 days'
           or (status in ('signature_failed', 'configuration_error')
               and processed_at < p_now - interval '7 days'))
    returning 1)
  select count(*)::integer from gone
$$;

create index if not exists idx_webhook_logs_type_processed_at
  on public.webhook_logs (webhook_type, processed_at);

do $$
declare
  f text;
begin
  foreach f in array array[
    'public.tb_setting_int(text, integer)',
    'public.tb_limit_unpaid_holds(text, uuid, date, time, timestamptz, integer, integer, '
      'timestamptz, jsonb)',
    'public.table_booking_create(jsonb, timestamptz)',
    'public.paypal_webhook_refused(text, text, jsonb, text, integer, integer, integer, '
      'timestamptz)',
    'public.table_booking_request_stats_prune(timestamptz)'
  ] loop
    execute format('revoke execute on function %s from public, anon, authenticated', f);
    execute format('grant execute on function %s to service_role', f);
  end loop;
end
$$;
