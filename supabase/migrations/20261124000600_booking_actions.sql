-- What changes bookings: customers, create, change, cancel, staff status, listing, rate limits.
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

create or replace function public.tb_rate_hit(
  p_bucket text,
  p_limit integer,
  p_window_seconds integer,
  p_now timestamptz,
  out allowed boolean,
  out hit_limit integer,
  out remaining integer,
  out reset_at timestamptz
)
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  v_start timestamptz := to_timestamp(
    floor(extract(epoch from p_now) / p_window_seconds) * p_window_seconds);
  v_hits integer;
begin
  insert into public.api_rate_counters as c (bucket, window_start, hits)
  values (p_bucket, v_start, 1)
  on conflict (bucket, window_start) do update set hits = c.hits + 1
  returning c.hits into v_hits;
  allowed := v_hits <= p_limit;
  hit_limit := p_limit;
  remaining := greatest(p_limit - v_hits, 0);
  reset_at := v_start + make_interval(secs => p_window_seconds);
end
$$;

-- The key behind a presented hash, counted against its hourly limit and any extra limits the
-- caller names (e.g. availability per client address), in one round trip. Null when the key is
-- unknown, inactive or expired.
drop function if exists public.api_key_authenticate(text);
create or replace function public.api_key_authenticate(
  p_key_hash text,
  p_now timestamptz default now(),
  p_limits jsonb default '[]'::jsonb
) returns jsonb
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  k public.api_keys;
  r record;
  lim jsonb;
  v_limited jsonb;
begin
  select * into k from public.api_keys
   where key_hash = p_key_hash
     and is_active
     and (expires_at is null or expires_at > p_now);
  if not found then
    return null;
  end if;
  -- last_used_at is for people, not accounting: written at most once a minute per key.
  if k.last_used_at is null or k.last_used_at < p_now - interval '1 minute' then
    update public.api_keys set last_used_at = p_now where id = k.id;
  end if;
  select * into r from public.tb_rate_hit('api_key:' || k.id, coalesce(k.rate_limit, 1000), 3600,
                                          p_now);
  if not r.allowed then
    v_limited := jsonb_build_object('scope', 'api_key', 'reset_at', r.reset_at);
  end if;
  for lim in select * from jsonb_array_elements(coalesce(p_limits, '[]'::jsonb)) loop
    exit when v_limited is not null;
    declare
      x record;
    begin
      select * into x from public.tb_rate_hit(lim ->> 'bucket', (lim ->> 'limit')::int,
                                              (lim ->> 'window_seconds')::int, p_now);
      if not x.allowed then
        v_limited := jsonb_build_object('scope', lim ->> 'bucket', 'reset_at', x.reset_at);
      end if;
    end;
  end loop;
  return jsonb_build_object(
    'id', k.id, 'name', k.name, 'permissions', coalesce(k.permissions, '[]'::jsonb),
    'rate_limit', jsonb_build_object('limit', r.hit_limit, 'remaining', r.remaining,
                                     'reset_at', r.reset_at),
    'limited', v_limited);
end
$$;

-- Staff permissions: super_admin may do everything; others need table_bookings:<action>.
-- Staff may do what the pub's own permissions (module table_bookings) let them do, no more: each
-- action of this service maps onto the permission the pub defines for it. view, create as named;
-- edit (change, status, start a payment) and cancel are the pub's "edit" (its FOH actions) or
-- "manage" (full management); choosing a refund is the pub's "refund" (super_admin only there).
create or replace function public.staff_has_permission(p_user_id uuid, p_action text)
returns boolean
language sql stable security definer set search_path = public, pg_temp as $$
  select coalesce(bool_or(public.user_has_permission(p_user_id, 'table_bookings', a)), false)
  from unnest(case p_action
                when 'view' then array['view']
                when 'create' then array['create']
                when 'edit' then array['edit', 'manage']
                when 'cancel' then array['edit', 'manage']
                when 'refund' then array['refund']
                else array[]::text[] end) a
$$;

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

-- Customers (plan section 1) -------------------------------------------------------------------
-- Find by mobile_e164, then by the legacy mobile_number forms; create when none. A lock on the
-- number serialises parallel requests for a new number, so they never create two customers.
create or replace function public.tb_resolve_customer(p_customer jsonb) returns uuid
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  c public.customers;
  v_e164 text := p_customer ->> 'mobile_e164';
  v_email text := lower(nullif(trim(p_customer ->> 'email'), ''));
  v_opt_in boolean := coalesce((p_customer ->> 'sms_opt_in')::boolean, true);
  v_email_free boolean;
  v_id uuid;
begin
  perform pg_advisory_xact_lock(hashtextextended('customer:' || v_e164, 0));
  select * into c from public.customers where mobile_e164 = v_e164
   order by created_at limit 1;
  if not found then
    select * into c from public.customers
     where mobile_number = any (array(
             select jsonb_array_elements_text(coalesce(p_customer -> 'variants', '[]'::jsonb))))
     order by created_at limit 1;
  end if;
  -- The email is unique across customers; one that belongs to someone else is not copied.
  v_email_free := v_email is not null
                  and not exists (select 1 from public.customers where lower(email) = v_email);
  if c.id is not null then
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
    where id = c.id;
    return c.id;
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

-- Shared checks ----------------------------------------------------------------------------------
-- Refuse a date, time and party size the policy or the kitchen does not allow; return the
-- booking's start instant. Used by create and change alike.
create or replace function public.tb_check_slot(
  p_booking_type public.table_booking_type,
  p_date date,
  p_time time,
  p_party_size integer,
  p_now timestamptz,
  p_override boolean
) returns timestamptz
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  cfg jsonb := public.tb_config();
  d record;
  h record;
  t record;
  v_offset integer;
  v_span integer;
  v_start timestamptz;
begin
  select * into d from public.tb_day_refusal(p_booking_type, p_date, p_party_size, p_now,
                                             p_override);
  if d.reason is not null then
    raise exception using errcode = 'P0001', message = 'POLICY_VIOLATION', detail = d.message,
      hint = jsonb_build_object('reason', d.reason)::text;
  end if;
  select * into h from public.tb_day_hours(p_date);
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

-- Take the capacity locks for the service dates a booking can overlap, in date order (so two
-- transactions never wait on each other in a cycle), then refuse if the party does not fit.
create or replace function public.tb_claim_covers(
  p_dates date[],
  p_date date,
  p_time time,
  p_start timestamptz,
  p_duration_minutes integer,
  p_booking_type public.table_booking_type,
  p_party_size integer,
  p_now timestamptz,
  p_exclude_booking_id uuid default null
) returns void
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  v_day date;
  v_free integer;
begin
  for v_day in
    select distinct x from unnest(p_dates) d, generate_series(d - 1, d + 1, interval '1 day') x
    order by 1
  loop
    perform pg_advisory_xact_lock(hashtextextended('table_bookings:' || v_day::text, 0));
  end loop;
  v_free := public.table_booking_covers_free(p_date, p_time, p_start, p_duration_minutes,
                                             p_booking_type, p_now, p_exclude_booking_id);
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

-- Money as the API shows it: "12.50".
create or replace function public.tb_money(p_amount numeric) returns text
language sql immutable set search_path = pg_catalog, pg_temp as $$
  select to_char(coalesce(p_amount, 0), 'FM999999990.00')
$$;

-- Refund due when cancelling now, under the terms copied onto the booking: 100% from
-- full_refund_hours before the start, partial_refund_percentage from partial_refund_hours,
-- else nothing; less any cancellation fee, never below zero. Rounded half up to the penny.
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
begin
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

-- The booking a caller names: by reference, and for a guest (p_token_hash set) only with that
-- booking's own token; NOT_FOUND otherwise (the same answer for a wrong token). p_lock takes the
-- row lock a change needs.
create or replace function public.tb_booking_by_reference(
  p_reference text, p_token_hash text, p_lock boolean default false
) returns public.table_bookings
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  b public.table_bookings;
begin
  if p_lock then
    select * into b from public.table_bookings
     where booking_reference = upper(p_reference)
       and (p_token_hash is null or manage_token_hash = p_token_hash)
     for update;
  else
    select * into b from public.table_bookings
     where booking_reference = upper(p_reference)
       and (p_token_hash is null or manage_token_hash = p_token_hash);
  end if;
  if not found then
    raise exception using errcode = 'P0001', message = 'NOT_FOUND',
      detail = 'There is no booking with that reference.';
  end if;
  return b;
end
$$;

-- One booking as the API shows it. p_token_hash: the guest's manage token (sha256 hex); null
-- for staff and manage-scope keys (the service decides who may pass null).
create or replace function public.table_booking_detail(
  p_reference text,
  p_token_hash text,
  p_now timestamptz
) returns json
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  b public.table_bookings;
  c public.customers;
  v_paid numeric;
  v_refunded numeric;
  v_items jsonb;
  v_refund record;
begin
  b := public.tb_booking_by_reference(p_reference, p_token_hash);
  select * into c from public.customers where id = b.customer_id;
  select coalesce(sum(amount), 0), coalesce(sum(refund_amount), 0) into v_paid, v_refunded
  from public.table_booking_payments
   where booking_id = b.id and status in ('completed', 'refunded', 'partial_refund');
  select coalesce(jsonb_agg(jsonb_build_object(
           'menu_item_id', i.menu_item_id,
           'name', coalesce(m.name, i.custom_item_name),
           'item_type', i.item_type,
           'quantity', i.quantity,
           'price', public.tb_money(i.price_at_booking),
           'guest_name', i.guest_name,
           'special_requests', i.special_requests) order by i.item_type, m.display_order, i.id),
         '[]'::jsonb)
    into v_items
  from public.table_booking_items i
  left join public.sunday_lunch_menu_items m on m.id = i.menu_item_id
  where i.booking_id = b.id;
  select * into v_refund from public.tb_refund_due(b.refund_policy, v_paid, b.start_datetime,
                                                   p_now);
  v_refund.amount := greatest(v_refund.amount - v_refunded, 0);
  return json_build_object(
    'booking_id', b.id,
    'booking_reference', b.booking_reference,
    'status', b.status,
    'booking_type', b.booking_type,
    'date', to_char(b.booking_date, 'YYYY-MM-DD'),
    'time', to_char(b.booking_time, 'HH24:MI'),
    'party_size', b.party_size,
    'duration_minutes', b.duration_minutes,
    'starts_at', public.tb_london_iso(b.start_datetime),
    'ends_at', public.tb_london_iso(b.end_datetime),
    -- Staff and manage keys see how to reach the guest and their history; the guest, their name.
    'customer', case when p_token_hash is null
                     then json_build_object(
                       'customer_id', c.id, 'first_name', c.first_name, 'last_name', c.last_name,
                       'mobile_number', c.mobile_e164, 'email', c.email,
                       'table_booking_count', c.table_booking_count,
                       'no_show_count', c.no_show_count)
                     else json_build_object('first_name', c.first_name, 'last_name', c.last_name)
                end,
    'special_requirements', b.special_requirements,
    'dietary_requirements', coalesce(to_jsonb(b.dietary_requirements), '[]'::jsonb),
    'allergies', coalesce(to_jsonb(b.allergies), '[]'::jsonb),
    'celebration_type', b.celebration_type,
    'source', b.source,
    'menu_selections', v_items,
    'payment', case when b.booking_type = 'sunday_lunch' then json_build_object(
                 'deposit_amount', public.tb_money(b.deposit_amount),
                 'total_amount', public.tb_money(b.total_amount),
                 -- The balance due on arrival, once the deposit is paid.
                 'outstanding_amount', public.tb_money(greatest(b.total_amount - b.deposit_amount,
                                                                0)),
                 'paid_amount', public.tb_money(v_paid),
                 'status', b.payment_status,
                 'currency', 'GBP',
                 'expires_at', case when b.status = 'pending_payment'
                                    then public.tb_london_iso(b.hold_expires_at) end) end,
    'refund_policy', b.refund_policy,
    'refund_if_cancelled_now', json_build_object(
      'percentage', v_refund.percentage, 'amount', public.tb_money(v_refund.amount),
      'paid_amount', public.tb_money(v_paid)),
    'modification_count', coalesce(b.modification_count, 0),
    'created_at', public.tb_london_iso(b.created_at),
    'confirmed_at', public.tb_london_iso(b.confirmed_at),
    'cancelled_at', public.tb_london_iso(b.cancelled_at),
    'cancellation_reason', b.cancellation_reason,
    'completed_at', public.tb_london_iso(b.completed_at),
    'no_show_at', public.tb_london_iso(b.no_show_at),
    'policy_override', b.policy_override);
end
$$;

-- Create (plan "Data Consistency") ---------------------------------------------------------------
-- p_request (normalised by the service): booking_type, date, time, party_size, customer
-- {first_name, last_name, mobile_e164, variants[], email, sms_opt_in}, special_requirements,
-- dietary_requirements[], allergies[], celebration_type, source, menu_selections[{menu_item_id,
-- quantity, guest_name, special_requests}], manage_token_hash, idempotency {key, request_hash}
-- or null, manage_token_sealed, actor, client, override, create_limit_per_phone.
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
begin
  -- Idempotency: the claim is this transaction's row in idempotency_keys. A parallel request
  -- with the same key waits on it, then replays the committed response; if this transaction
  -- fails, the claim disappears with it and the key can be used again.
  if v_idem_key is not null then
    delete from public.idempotency_keys where key = v_idem_key and expires_at <= p_now;
    insert into public.idempotency_keys (key, request_hash, response, expires_at)
    values (v_idem_key, v_idem_hash,
            jsonb_build_object('state', 'processing', 'claimed_at', p_now),
            p_now + interval '24 hours')
    on conflict (key) do nothing
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

  v_start := public.tb_check_slot(v_type, v_date, v_time, v_party, p_now, v_override);

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
                                 v_party, p_now);

  select * into v_policy from public.booking_policies where booking_type = v_type;
  v_status := case when v_type = 'sunday_lunch' then 'pending_payment' else 'confirmed' end;
  if v_type = 'sunday_lunch' then
    v_deposit := (cfg ->> 'deposit_per_guest')::numeric * v_party;
    -- The hold never outlasts the booking itself.
    v_hold := least(p_now + make_interval(mins => (cfg ->> 'payment_hold_minutes')::int),
                    v_start);
  end if;
  v_reference := public.generate_booking_reference();

  insert into public.table_bookings (
    booking_reference, customer_id, booking_date, booking_time, party_size, booking_type,
    status, duration_minutes, special_requirements, dietary_requirements, allergies,
    celebration_type, source, confirmed_at, hold_expires_at, start_datetime, end_datetime,
    manage_token_hash, refund_policy, deposit_amount, payment_status, policy_override,
    reminder_sent, created_at)
  values (
    v_reference, v_customer, v_date, v_time, v_party, v_type, v_status, v_duration,
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
    v_override, false, p_now)
  returning id into v_id;

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

  if v_idem_key is not null then
    update public.idempotency_keys
       set response = v_response || jsonb_build_object(
             'manage_token_sealed', p_request ->> 'manage_token_sealed')
     where key = v_idem_key;
  end if;
  return v_response || jsonb_build_object('customer_id', v_customer);
end
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
  v_slot_changed := v_date <> b.booking_date or v_time <> b.booking_time
                    or v_party <> b.party_size;
  v_start := b.start_datetime;
  if v_slot_changed then
    v_start := public.tb_check_slot(b.booking_type, v_date, v_time, v_party, p_now, p_override);
    perform public.tb_claim_covers(array[b.booking_date, v_date], v_date, v_time, v_start,
                                   b.duration_minutes, b.booking_type, v_party, p_now, b.id);
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
    end_datetime = v_start + make_interval(mins => duration_minutes),
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
-- work, so here it is recorded on the payment (payment_metadata.refund_due).
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
  v_after public.table_bookings;
  b public.table_bookings;
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
  if p_refund_override is not null then
    -- Staff with the cancel permission may refund another amount than the policy's; audited.
    if p_actor ->> 'kind' <> 'staff' or p_refund_override < 0
       or p_refund_override > v_paid - v_refunded then
      raise exception using errcode = 'P0001', message = 'VALIDATION_ERROR',
        detail = format('The refund must be between 0.00 and the %s paid and not yet refunded.',
                        public.tb_money(v_paid - v_refunded)),
        hint = '[{"field": "refund_amount", "message": "out of range"}]';
    end if;
    perform public.tb_audit('payment.refund_override', b.id, 'success', p_actor, p_client,
      jsonb_build_object('refund_due', public.tb_money(v_refund.amount)),
      jsonb_build_object('refund_due', public.tb_money(p_refund_override)),
      jsonb_build_object('booking_reference', b.booking_reference));
    v_refund.amount := p_refund_override;
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

-- Staff: completed or no_show -------------------------------------------------------------------
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
  if p_status = 'no_show' and b.start_datetime > p_now then
    raise exception using errcode = 'P0001', message = 'POLICY_VIOLATION',
      detail = format('A booking can be marked as a no-show only after it starts (%s).',
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

-- Staff and manage keys: list and filter ----------------------------------------------------------
-- p_filters: date_from, date_to, status[], booking_type, search, page (1-based), page_size.
create or replace function public.table_booking_list(p_filters jsonb) returns json
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  v_page integer := greatest(coalesce((p_filters ->> 'page')::int, 1), 1);
  v_size integer := least(greatest(coalesce((p_filters ->> 'page_size')::int, 50), 1), 200);
  v_search text := nullif(trim(p_filters ->> 'search'), '');
  v_digits text := nullif(regexp_replace(coalesce(p_filters ->> 'search', ''), '\D', '', 'g'), '');
  -- Staff type numbers the UK way (07700 900123); customers are stored as +447700900123.
  v_uk text := case when v_digits like '0%' then '44' || substr(v_digits, 2) end;
  v_statuses text[] := array(select jsonb_array_elements_text(
                         coalesce(p_filters -> 'status', '[]'::jsonb)));
  v_total integer;
  v_items json;
begin
  with matching as (
    select b.*, c.first_name, c.last_name, c.mobile_e164
    from public.table_bookings b
    left join public.customers c on c.id = b.customer_id
    where (p_filters ->> 'date_from' is null or b.booking_date >= (p_filters ->> 'date_from')::date)
      and (p_filters ->> 'date_to' is null or b.booking_date <= (p_filters ->> 'date_to')::date)
      and (cardinality(v_statuses) = 0 or b.status::text = any (v_statuses))
      and (p_filters ->> 'booking_type' is null
           or b.booking_type::text = p_filters ->> 'booking_type')
      and (v_search is null
           or b.booking_reference ilike '%' || v_search || '%'
           or (c.first_name || ' ' || c.last_name) ilike '%' || v_search || '%'
           or (length(v_digits) >= 4 and (c.mobile_e164 like '%' || v_digits || '%'
                                           or c.mobile_e164 like '%' || v_uk || '%')))
  ), page as (
    select * from matching
    order by booking_date, booking_time, booking_reference
    limit v_size offset (v_page - 1) * v_size
  )
  select (select count(*) from matching),
         coalesce((select json_agg(json_build_object(
           'booking_id', p.id,
           'booking_reference', p.booking_reference,
           'status', p.status,
           'booking_type', p.booking_type,
           'date', to_char(p.booking_date, 'YYYY-MM-DD'),
           'time', to_char(p.booking_time, 'HH24:MI'),
           'party_size', p.party_size,
           'customer_name', trim(coalesce(p.first_name, '') || ' ' || coalesce(p.last_name, '')),
           'mobile_number', p.mobile_e164,
           'special_requirements', p.special_requirements,
           'allergies', coalesce(to_json(p.allergies), '[]'::json),
           'source', p.source) order by p.booking_date, p.booking_time, p.booking_reference)
           from page p), '[]'::json)
    into v_total, v_items;
  return json_build_object('items', v_items, 'page', v_page, 'page_size', v_size,
                           'total', v_total);
end
$$;

do $$
declare
  f text;
begin
  foreach f in array array[
    'public.tb_rate_hit(text, integer, integer, timestamptz)',
    'public.api_key_authenticate(text, timestamptz, jsonb)',
    'public.staff_has_permission(uuid, text)',
    'public.tb_audit(text, uuid, text, jsonb, jsonb, jsonb, jsonb, jsonb, text, text)',
    'public.table_booking_audit_refusal(text, text, text, text, jsonb, jsonb, jsonb)',
    'public.tb_resolve_customer(jsonb)',
    'public.tb_check_slot(public.table_booking_type, date, time, integer, timestamptz, boolean)',
    'public.tb_claim_covers(date[], date, time, timestamptz, integer, public.table_booking_type, '
      'integer, timestamptz, uuid)',
    'public.tb_money(numeric)',
    'public.tb_booking_by_reference(text, text, boolean)',
    'public.tb_refund_due(jsonb, numeric, timestamptz, timestamptz)',
    'public.table_booking_detail(text, text, timestamptz)',
    'public.table_booking_create(jsonb, timestamptz)',
    'public.table_booking_update(text, text, jsonb, jsonb, jsonb, timestamptz, boolean)',
    'public.tb_require_open(public.table_bookings, timestamptz)',
    'public.table_booking_cancel(text, text, text, jsonb, jsonb, timestamptz, numeric)',
    'public.table_booking_set_status(text, text, jsonb, jsonb, timestamptz)',
    'public.table_booking_list(jsonb)'
  ] loop
    execute format('revoke execute on function %s from public, anon, authenticated', f);
    execute format('grant execute on function %s to service_role', f);
  end loop;
end
$$;
