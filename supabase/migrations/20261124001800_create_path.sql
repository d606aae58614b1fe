-- A create's own work, less of it (bench/README.md, "Fourth session"). Behaviour unchanged.
--
-- 1. The configuration is read once per create: table_booking_create hands it to
--    tb_check_slot (new argument p_cfg) and its capacity to tb_claim_covers and
--    table_booking_covers_free (new argument p_capacity). Both default to null, which reads the
--    configuration as before, so every other caller is unchanged.
-- 2. tb_claim_covers lists the days of one date (a create's case) without a query. The query it
--    ran for them (distinct days from unnest and generate_series) was planned afresh on every
--    call, as PostgreSQL judged its generic plan dearer: 47 us a call, against 14 us for the
--    same query on its generic plan. Two dates (a change of date) still take the query.
-- 3. The idempotency claim takes over an expired row in its insert (no delete first), and for a
--    table it stores the final response at once (the booking's id and reference are drawn
--    first), so no update follows; a Sunday lunch's response is still written at the end.

-- New arguments: the old signatures go, so that calls with fewer arguments are not ambiguous.
drop function if exists public.tb_check_slot(
  public.table_booking_type, date, time, integer, timestamptz, boolean);
drop function if exists public.tb_claim_covers(
  date[], date, time, timestamptz, integer, public.table_booking_type, integer, timestamptz, uuid);
drop function if exists public.table_booking_covers_free(
  date, time, timestamptz, integer, public.table_booking_type, timestamptz, uuid);

-- From 20261124001000_fast_paths.sql: the configuration may be handed in.
create or replace function public.tb_check_slot(
  p_booking_type public.table_booking_type,
  p_date date,
  p_time time,
  p_party_size integer,
  p_now timestamptz,
  p_override boolean,
  p_cfg jsonb default null
) returns timestamptz
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  cfg jsonb := coalesce(p_cfg, public.tb_config());
  d record;
  h public.tb_hours := public.tb_hours_of(p_date);
  t record;
  v_offset integer;
  v_span integer;
  v_start timestamptz;
begin
  select * into d from public.tb_day_refusal_for(p_booking_type, p_date, p_party_size, p_now,
                                                 p_override, cfg, h);
  if d.reason is not null then
    raise exception using errcode = 'P0001', message = 'POLICY_VIOLATION', detail = d.message,
      hint = jsonb_build_object('reason', d.reason)::text;
  end if;
  v_offset := extract(epoch from (p_time - h.opens))::int / 60
              + case when h.overnight and p_time < h.opens then 1440 else 0 end;
  v_span := extract(epoch from (h.closes - h.opens))::int / 60
            + case when h.closes <= h.opens then 1440 else 0 end;
  if v_offset < 0 or v_offset > v_span - (cfg ->> 'last_start_margin_minutes')::int then
    raise exception using errcode = 'P0001', message = 'POLICY_VIOLATION',
      detail = format('The kitchen is not serving at %s. On %s food is served from %s to %s, '
                      'and the last table can be booked for %s.',
                      to_char(p_time, 'HH24:MI'), public.tb_day_words(p_date),
                      to_char(h.opens, 'HH24:MI'), to_char(h.closes, 'HH24:MI'),
                      to_char(h.opens + make_interval(
                        mins => v_span - (cfg ->> 'last_start_margin_minutes')::int), 'HH24:MI')),
      hint = '{"reason": "KITCHEN_CLOSED"}';
  end if;
  v_start := public.tb_start_instant(p_date, p_time, h.opens, h.overnight);
  select * into t from public.tb_time_refusal(p_booking_type, v_start, p_now, p_override);
  if t.reason is not null then
    raise exception using errcode = 'P0001', message = 'POLICY_VIOLATION', detail = t.message,
      hint = jsonb_build_object('reason', t.reason)::text;
  end if;
  return v_start;
end
$$;

-- From 20261124001200_capacity_span.sql: the default capacity may be handed in.
create or replace function public.table_booking_covers_free(
  p_date date,
  p_time time,
  p_start timestamptz,
  p_duration_minutes integer,
  p_booking_type public.table_booking_type,
  p_now timestamptz,
  p_exclude_booking_id uuid default null,
  p_capacity integer default null
) returns integer
language sql stable security definer set search_path = public, pg_temp as $$
  select public.tb_slot_capacity(p_date, p_time, p_booking_type,
                                 coalesce(p_capacity, (public.tb_config() ->> 'capacity')::int))
         - coalesce((
             select sum(b.party_size)
             from public.table_bookings b
             where public.tb_booking_span(b.booking_date, b.booking_time, b.start_datetime,
                                          b.end_datetime, b.duration_minutes)
                   && public.tb_span(p_start, p_start + make_interval(mins => p_duration_minutes))
               and b.status in ('confirmed', 'pending_payment')
               -- A booking near midnight may overlap the neighbouring service day.
               and b.booking_date - p_date between -1 and 1
               and (p_exclude_booking_id is null or b.id <> p_exclude_booking_id)
               and (b.status = 'confirmed'
                    or (b.status = 'pending_payment'
                        and (b.hold_expires_at is null or b.hold_expires_at > p_now)))
               and coalesce(b.start_datetime,
                            (b.booking_date + b.booking_time) at time zone 'Europe/London')
                   < p_start + make_interval(mins => p_duration_minutes)
               and coalesce(b.end_datetime,
                            (b.booking_date + b.booking_time) at time zone 'Europe/London'
                            + make_interval(mins => coalesce(b.duration_minutes, 120)))
                   > p_start
           ), 0)::integer
$$;

-- From 20261124000600_booking_actions.sql: one date's locks without a query (item 2), the
-- capacity handed on.
create or replace function public.tb_claim_covers(
  p_dates date[],
  p_date date,
  p_time time,
  p_start timestamptz,
  p_duration_minutes integer,
  p_booking_type public.table_booking_type,
  p_party_size integer,
  p_now timestamptz,
  p_exclude_booking_id uuid default null,
  p_capacity integer default null
) returns void
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  v_days date[];
  v_day date;
  v_free integer;
begin
  if cardinality(p_dates) = 1 then
    v_days := array[p_dates[1] - 1, p_dates[1], p_dates[1] + 1];
  else
    select array_agg(distinct x::date order by x::date) into v_days
    from unnest(p_dates) d, generate_series(d - 1, d + 1, interval '1 day') x;
  end if;
  foreach v_day in array v_days loop
    perform pg_advisory_xact_lock(hashtextextended('table_bookings:' || v_day::text, 0));
  end loop;
  v_free := public.table_booking_covers_free(p_date, p_time, p_start, p_duration_minutes,
                                             p_booking_type, p_now, p_exclude_booking_id,
                                             p_capacity);
  if v_free < p_party_size then
    raise exception using errcode = 'P0001', message = 'NO_AVAILABILITY',
      detail = case when v_free <= 0
                    then format('Sorry, we are fully booked at %s on %s.',
                                to_char(p_time, 'HH24:MI'), public.tb_day_words(p_date))
                    else format('Sorry, only %s covers are free at %s on %s.', v_free,
                                to_char(p_time, 'HH24:MI'), public.tb_day_words(p_date)) end,
      hint = jsonb_build_object('available_capacity', greatest(v_free, 0))::text;
  end if;
end
$$;

-- From 20261124000600_booking_actions.sql: items 1 and 3 above; the id and the reference are
-- drawn first.
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
    reminder_sent, created_at, committed_party_size)
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
    -- committed_party_size: the covers the kitchen plans for, as the pub's own RPC fills it.
    v_override, false, p_now, v_party);

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
    insert into public.table_booking_payments (
      booking_id, payment_method, amount, currency, status, payment_metadata)
    values (v_id, 'paypal', v_deposit, 'GBP', 'pending', jsonb_build_object(
      'payment_type', 'deposit', 'deposit_amount', public.tb_money(v_deposit),
      'total_amount', public.tb_money(v_total),
      'outstanding_amount', public.tb_money(greatest(v_total - v_deposit, 0))));
  end if;

  perform public.tb_record_sms_consent(v_customer, (p_request -> 'customer' ->> 'sms_opt_in')::boolean,
                                       v_id, p_request -> 'actor');
  perform public.tb_booking_written(null, (select t from public.table_bookings t where t.id = v_id));

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

revoke execute on function public.tb_check_slot(
  public.table_booking_type, date, time, integer, timestamptz, boolean, jsonb)
  from public, anon, authenticated;
revoke execute on function public.tb_claim_covers(
  date[], date, time, timestamptz, integer, public.table_booking_type, integer, timestamptz, uuid,
  integer) from public, anon, authenticated;
revoke execute on function public.table_booking_covers_free(
  date, time, timestamptz, integer, public.table_booking_type, timestamptz, uuid, integer)
  from public, anon, authenticated;
grant execute on function public.tb_check_slot(
  public.table_booking_type, date, time, integer, timestamptz, boolean, jsonb) to service_role;
grant execute on function public.tb_claim_covers(
  date[], date, time, timestamptz, integer, public.table_booking_type, integer, timestamptz, uuid,
  integer) to service_role;
grant execute on function public.table_booking_covers_free(
  date, time, timestamptz, integer, public.table_booking_type, timestamptz, uuid, integer)
  to service_role;
