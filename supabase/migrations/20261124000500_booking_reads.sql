-- What is read: availability for a date, the Sunday lunch menu, one booking, the staff list.

-- Function bodies are checked when called, not when made: each function is defined once,
-- in the file of its concern, in any order.
set local check_function_bodies = off;

-- The same as jsonb, for callers that want to look inside.
create or replace function public.table_booking_availability(
  p_date date,
  p_party_size integer,
  p_booking_type public.table_booking_type,
  p_now timestamptz,
  p_options jsonb default '{}'::jsonb
) returns jsonb
language sql stable security definer set search_path = public, pg_temp as $$
  select public.tb_availability_json(p_date, p_party_size, p_booking_type, p_now,
                                     p_options)::jsonb
$$;

-- The Sunday lunch menu for a date (null: the next orderable Sunday), the data of
-- GET /api/table-bookings/menu/sunday-lunch.
create or replace function public.sunday_lunch_menu(p_date date, p_now timestamptz)
returns jsonb
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  cfg jsonb := public.tb_config();
  v_date date := coalesce(p_date, public.tb_next_orderable_sunday(p_now));
  v_cutoff timestamptz;
  v_items jsonb;
begin
  if extract(dow from v_date) <> 0 then
    raise exception using errcode = 'P0001', message = 'POLICY_VIOLATION',
      detail = public.tb_not_sunday_message(v_date),
      hint = '{"reason": "NOT_SUNDAY"}';
  end if;
  v_cutoff := ((v_date - 1) + (cfg ->> 'sunday_lunch_cutoff_time')::time)
              at time zone 'Europe/London';
  -- Only dishes still served are listed, so every one is available; the flag is what the
  -- website filters on.
  select coalesce(jsonb_agg(jsonb_build_object(
           'id', m.id,
           'name', m.name,
           'description', m.description,
           'category', m.category,
           'price', round(m.price, 2),
           'included', m.category = 'side' and m.price = 0,
           'is_available', true,
           'allergens', coalesce(to_jsonb(m.allergens), '[]'::jsonb),
           'dietary_info', coalesce(to_jsonb(m.dietary_info), '[]'::jsonb))
           order by m.display_order, m.name), '[]'::jsonb)
    into v_items
  from public.sunday_lunch_menu_items m
  where m.is_active;

  return jsonb_build_object(
    'menu_date', to_char(v_date, 'YYYY-MM-DD'),
    'mains', (select coalesce(jsonb_agg(i), '[]'::jsonb) from jsonb_array_elements(v_items) i
              where i ->> 'category' = 'main'),
    'sides', (select coalesce(jsonb_agg(i), '[]'::jsonb) from jsonb_array_elements(v_items) i
              where i ->> 'category' = 'side'),
    'order_cutoff', public.tb_london_iso(v_cutoff),
    'cutoff_time', public.tb_london_iso(v_cutoff),
    'ordering_open', p_now < v_cutoff,
    'deposit_per_guest', to_char((cfg ->> 'deposit_per_guest')::numeric, 'FM999990.00'),
    'currency', 'GBP');
end
$$;

-- The booking a caller names: by reference, and for a guest (p_token_hash set) only with that
-- booking's own token, or a guest link of the booking's that the service has just opened
-- ('link:' and its hash, tb_guest_link_holds); NOT_FOUND otherwise (the same answer for a wrong
-- token). p_lock takes the row lock a change needs.
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
       and (p_token_hash is null or manage_token_hash = p_token_hash
            or public.tb_guest_link_holds(id, p_token_hash))
     for update;
  else
    select * into b from public.table_bookings
     where booking_reference = upper(p_reference)
       and (p_token_hash is null or manage_token_hash = p_token_hash
            or public.tb_guest_link_holds(id, p_token_hash));
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
    'booking_purpose', b.booking_purpose,
    -- Where the venue seats by tables: the booking's tables, as the pub's screens name them.
    'table_name', case when b.is_outside_seating then 'Outside'
                       else public.tb_tables_label(array(
                              select a.table_id from public.booking_table_assignments a
                              where a.table_booking_id = b.id)) end,
    'is_outside_seating', b.is_outside_seating,
    'high_chair_count', b.high_chair_count,
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
    -- Sunday lunch, and every booking that owes or paid a deposit by the pub's rule.
    'payment', case when b.booking_type = 'sunday_lunch' or coalesce(b.deposit_amount, 0) > 0
                    then json_build_object(
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

-- the search pattern escaped (v_pattern).
create or replace function public.table_booking_list(p_filters jsonb) returns json
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  v_page integer := greatest(coalesce((p_filters ->> 'page')::int, 1), 1);
  v_size integer := least(greatest(coalesce((p_filters ->> 'page_size')::int, 50), 1), 200);
  v_search text := nullif(trim(p_filters ->> 'search'), '');
  -- The search is matched as typed: % and _ are letters here, not LIKE's wildcards.
  v_pattern text := '%' || replace(replace(replace(v_search, '\', '\\'), '%', '\%'), '_', '\_')
                    || '%';
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
           or b.booking_reference ilike v_pattern
           or (c.first_name || ' ' || c.last_name) ilike v_pattern
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

-- Slots for one date (GET /api/table-bookings/availability), with the configuration and the day's
-- hours read once.
-- Built as json, not jsonb: the service sends it on as text, and json is text already.
create or replace function public.tb_availability_json(
  p_date date,
  p_party_size integer,
  p_booking_type public.table_booking_type,
  p_now timestamptz,
  p_options jsonb default '{}'::jsonb
) returns json
language sql stable security definer set search_path = public, pg_temp as $$
  select a.data
  from public.tb_availability_answer(p_date, p_party_size, p_booking_type, p_now, p_options) a
$$;

-- The answer of tb_availability_json (data), and how many days either side of p_date the search
-- for alternatives read (searched: 0 when it did not run), which tb_availability_stamp must cover.
create or replace function public.tb_availability_answer(
  p_date date,
  p_party_size integer,
  p_booking_type public.table_booking_type,
  p_now timestamptz,
  p_options jsonb,
  out data json,
  out searched integer
)
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  cfg jsonb := public.tb_config();
  v_purpose text := coalesce(p_options ->> 'purpose', 'food');
  h public.tb_hours := public.tb_hours_of(p_date, v_purpose);
  v_prepay boolean := p_booking_type = 'sunday_lunch';
  d record;
  v_slots json;
  v_any boolean;
  v_all_full boolean;
  v_message text;
  v_alternatives jsonb := '[]'::jsonb;
  v_day date;
  a record;
begin
  searched := 0;
  select * into d
  from public.tb_day_refusal_for(p_booking_type, p_date, p_party_size, p_now, false, cfg, h);
  if public.tb_venue_has_tables() then
    -- A deposit by the engine's rule (a large group, a seasonal period, Sunday lunch).
    v_prepay := coalesce((public.tb_deposit_verdict(
      p_booking_type::text, p_party_size, p_date, null, null, v_purpose, false, cfg)
      ->> 'deposit_required')::boolean, false);
  end if;

  select coalesce(json_agg(json_build_object(
           'time', to_char(x.slot_time, 'HH24:MI'),
           'available', coalesce(d.reason, x.reason) is null,
           'available_capacity', x.available_capacity,
           'requires_prepayment', v_prepay,
           'reason', coalesce(d.reason, x.reason),
           'message', coalesce(d.message, x.message)) order by x.n), '[]'::json),
         coalesce(bool_or(coalesce(d.reason, x.reason) is null), false),
         coalesce(bool_and(x.reason = 'FULL'), false)
    into v_slots, v_any, v_all_full
  from public.tb_day_slots_for(p_date, p_party_size, p_booking_type, p_now, false, cfg, h,
                               p_options)
       with ordinality as x(slot_time, available_capacity, reason, message, n);

  if not v_any then
    v_message := coalesce(
      d.message,
      case when v_all_full
           then format('Sorry, we are fully booked for %s on %s.',
                       case when p_party_size = 1 then '1 guest'
                            else p_party_size || ' guests' end,
                       public.tb_day_words(p_date))
           else format('There are no times left to book on %s.', public.tb_day_words(p_date))
      end);
    -- The nearest bookable slots: days at growing distance from the date asked for (later
    -- before earlier at the same distance); Sunday lunch looks at Sundays only. A party too
    -- large for any day gets none.
    if d.reason is distinct from 'PARTY_TOO_LARGE' then
      <<search>>
      for v_day in
        select x::date
        from generate_series(p_date - (cfg ->> 'alternative_days')::int,
                             p_date + (cfg ->> 'alternative_days')::int, interval '1 day') x
        where x::date <> p_date
          and x::date >= (p_now at time zone 'Europe/London')::date - 1
          and (p_booking_type <> 'sunday_lunch' or extract(dow from x) = 0)
        order by abs(x::date - p_date), x::date desc
      loop
        searched := abs(v_day - p_date);
        continue when (public.tb_day_refusal_for(p_booking_type, v_day, p_party_size, p_now,
                                                 false, cfg,
                                                 public.tb_hours_of(v_day, v_purpose))
                      ).reason is not null;
        for a in
          select slot_time from public.tb_day_slots(v_day, p_party_size, p_booking_type, p_now,
                                                    false, p_options)
          where reason is null
        loop
          v_alternatives := v_alternatives || jsonb_build_object(
            'date', to_char(v_day, 'YYYY-MM-DD'), 'time', to_char(a.slot_time, 'HH24:MI'));
          exit search when jsonb_array_length(v_alternatives) >= 3;
        end loop;
      end loop;
    end if;
  end if;

  data := json_build_object(
    'date', to_char(p_date, 'YYYY-MM-DD'),
    'booking_type', p_booking_type,
    'party_size', p_party_size,
    'purpose', v_purpose,
    'available', v_any,
    'kitchen_hours', case when h.kitchen_open then json_build_object(
                       'opens', to_char(h.opens, 'HH24:MI'),
                       'closes', to_char(h.closes, 'HH24:MI'),
                       'source', h.source) end,
    'time_slots', v_slots,
    'message', v_message,
    'alternatives', v_alternatives);
end
$$;
-- Availability answers are reused (app.services.availability.AnswerCache) while their stamp
-- holds: the stamp names everything an answer was computed from, so an answer whose stamp is
-- unchanged is the answer the engine would give again. It is "v1:<from>:<to>:<minute>:<md5>":
-- the days the answer read (the date asked for, widened by the days its search for alternatives
-- visited), the minute of p_now (tb_stamp_minute: every time rule is in whole minutes, slot
-- starts, notice, the walk-in hold's release, cut-offs, the day), and an md5 over
--   * every row version (xmin, ctid) of the small tables of the rules: settings, policies,
--     hours, special hours, tables, join links, table holds, booking periods and their dishes,
--     per-slot capacities, and the pub's space-to-area links where they exist;
--   * the table assignments starting from two days before p_from to the end of two days after
--     p_to (the day's table pass reads those starting from two days before its first slot to
--     its last slot's end: a table is never held for more than a day), and the bookings dated
--     from three days before p_from to two days after p_to (theirs, a service day's starts
--     running past its midnight, and every booking the day's pacing and covers count), each
--     with whether its unpaid hold has lapsed at p_now (the one rule of time not in whole
--     minutes);
--   * where the pub's tables exist its
--     private hires, their items, event seat allocations (with their event bookings) and
--     outside reservations meeting them.
-- Any insert, update or delete of such a row gives it a new version or removes it, so the stamp
-- changes; tests/test_availability_cache.py holds the tables read by tb_availability_answer to
-- the tables stamped here.
create or replace function public.tb_availability_stamp(p_from date, p_to date, p_now timestamptz)
returns text
language plpgsql stable security definer
set search_path = public, pg_temp
set plan_cache_mode = force_generic_plan as $$
declare
  v_lo timestamptz := (p_from - 2)::timestamp at time zone 'Europe/London';
  v_hi timestamptz := (p_to + 3)::timestamp at time zone 'Europe/London';
  v_rules text;
  v_booked text;
  v_pub text := '';
begin
  -- Rows in the order they are read (a heap in its physical order, an index in its own): an
  -- order can only change with the rows, and a stamp that changes only makes an answer be
  -- computed again.
  select string_agg(r.k || ':' || r.xmin::text || r.ctid::text, ',') into v_rules
  from (select 1, xmin, ctid from public.system_settings
        union all select 2, xmin, ctid from public.booking_policies
        union all select 3, xmin, ctid from public.business_hours
        union all select 4, xmin, ctid from public.business_hours_versions
        union all select 5, xmin, ctid from public.special_hours
        union all select 6, xmin, ctid from public.booking_time_slots
        union all select 7, xmin, ctid from public.tables
        union all select 8, xmin, ctid from public.table_join_links
        union all select 9, xmin, ctid from public.table_holds
        union all select 10, xmin, ctid from public.booking_periods
        union all select 11, xmin, ctid from public.booking_period_menu_items) r(k, xmin, ctid);
  -- A cancelled or no-show booking holds nothing (tb_is_live): left out, so a booking that
  -- becomes one, or stops being one, changes the stamp by leaving or joining it.
  select concat_ws('|',
    (select string_agg(b.xmin::text || b.ctid::text
                       || case when b.hold_expires_at <= p_now then 'x' else '' end, ',')
     from public.table_bookings b
     where b.booking_date between p_from - 3 and p_to + 2
       and b.status::text not in ('cancelled', 'no_show')),
    (select string_agg(a.xmin::text || a.ctid::text, ',')
     from public.tables t
     join public.booking_table_assignments a
       on a.table_id = t.id and a.start_datetime >= v_lo and a.start_datetime < v_hi))
    into v_booked;
  if to_regclass('public.venue_space_table_areas') is not null then
    select concat_ws('|',
      (select string_agg(x.xmin::text || x.ctid::text, ',' order by x.ctid)
       from public.venue_space_table_areas x),
      (select string_agg(pb.xmin::text || pb.ctid::text || ':' || coalesce(i.items, ''), ','
                         order by pb.ctid)
       from public.private_bookings pb
       cross join lateral (
         select string_agg(it.xmin::text || it.ctid::text, ',' order by it.ctid) as items
         from public.private_booking_items it where it.booking_id = pb.id) i
       where coalesce(pb.setup_date, pb.event_date) <= p_to + 3
         and pb.event_date >= p_from - 3))
      into v_pub;
  end if;
  if to_regclass('public.event_communal_seat_allocations') is not null then
    v_pub := v_pub || '|' || coalesce((
      select string_agg(e.xmin::text || e.ctid::text || ':' || coalesce(eb.xmin::text, '')
                        || case when eb.hold_expires_at <= p_now then 'x' else '' end,
                        ',' order by e.ctid)
      from public.event_communal_seat_allocations e
      left join public.bookings eb on eb.id = e.event_booking_id
      where e.start_datetime < v_hi and e.end_datetime > v_lo), '');
  end if;
  if to_regclass('public.outside_reservations') is not null then
    v_pub := v_pub || '|' || coalesce((
      select string_agg(r.xmin::text || r.ctid::text, ',' order by r.ctid)
      from public.outside_reservations r
      where r.starts_at < v_hi and r.ends_at > v_lo), '');
  end if;
  return format('v1:%s:%s:%s:%s', p_from, p_to,
                public.tb_stamp_minute(p_now),
                md5(concat_ws('#', v_rules, v_booked, v_pub)));
end
$$;

-- The stamp's time: the minute of p_now, and whether p_now is that minute's first instant.
-- Every time rule compares p_now with an instant on a whole minute, some inclusively (a slot is
-- past from its start on) and some strictly (too soon only after the notice's instant): both
-- kinds hold still through a minute once its first instant is past, so that instant is a time
-- of its own.
create or replace function public.tb_stamp_minute(p_now timestamptz) returns text
language sql immutable parallel safe as $$
  select floor(extract(epoch from p_now) / 60)::bigint::text
         || case when extract(epoch from p_now) % 60 = 0 then '.0' else '' end
$$;

-- The answer and its stamp, read in one snapshot (a stable function's statements all see the
-- calling statement's): a booking committed in between can never be stamped as not there.
create or replace function public.tb_availability_stamped(
  p_date date,
  p_party_size integer,
  p_booking_type public.table_booking_type,
  p_now timestamptz,
  p_options jsonb,
  out data json,
  out stamp text
)
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  a record;
begin
  select * into a
  from public.tb_availability_answer(p_date, p_party_size, p_booking_type, p_now, p_options);
  data := a.data;
  stamp := public.tb_availability_stamp(p_date - a.searched, p_date + a.searched, p_now);
end
$$;

-- The key check, its rate counting and the availability in one call, answered as three lines:
-- the key (api_key_authenticate's answer, or null), then either "=" (p_known, the stamp of an
-- answer the caller keeps, still holds: the answer is that one) or the new answer's stamp, then
-- the answer (null when the key is unknown or a limit refused it, and after "=").
drop function if exists public.table_booking_availability_for_key(
  text, timestamptz, jsonb, date, integer, public.table_booking_type, jsonb);
create or replace function public.table_booking_availability_for_key(
  p_key_hash text,
  p_now timestamptz,
  p_limits jsonb,
  p_date date,
  p_party_size integer,
  p_booking_type public.table_booking_type,
  p_options jsonb default '{}'::jsonb,
  p_known text default null
) returns text
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  k public.api_keys;
  a record;
  v_auth jsonb;
  v_known text[] := string_to_array(p_known, ':');
  v_same boolean := false;
begin
  k := public.tb_key_lookup(p_key_hash, p_now);
  if k.id is null then
    return 'null' || chr(10) || chr(10) || 'null';
  end if;
  -- The kept answer's days must still hold the date asked for (a stamp of another date's days
  -- says nothing of this one), and its minute must be this one.
  if cardinality(v_known) = 5 and v_known[1] = 'v1'
     and v_known[4] = public.tb_stamp_minute(p_now)
     and v_known[2] ~ '^\d{4}-\d{2}-\d{2}$' and v_known[3] ~ '^\d{4}-\d{2}-\d{2}$'
     and p_date - v_known[2]::date = v_known[3]::date - p_date
     and p_date >= v_known[2]::date then
    v_same := p_known = public.tb_availability_stamp(v_known[2]::date, v_known[3]::date, p_now);
  end if;
  if not v_same then
    select * into a
    from public.tb_availability_stamped(p_date, p_party_size, p_booking_type, p_now, p_options);
  end if;
  perform set_config('synchronous_commit', 'off', true);
  v_auth := public.tb_key_count(k, p_now, p_limits);
  -- jsonb's text has no raw line break (JSON strings escape theirs), nor has a stamp, so the
  -- first line is auth and the second the stamp.
  if jsonb_typeof(v_auth -> 'limited') is distinct from 'null' then
    return v_auth::text || chr(10) || chr(10) || 'null';
  end if;
  if v_same then
    return v_auth::text || chr(10) || '=' || chr(10) || 'null';
  end if;
  return v_auth::text || chr(10) || a.stamp || chr(10) || a.data::text;
end
$$;

-- The pub's 2025 website (issue 14): the menu without a date is the next orderable Sunday's.
-- The next Sunday Sunday lunch can still be booked for: the first from today whose day the
-- booking policy does not refuse (cut-off passed, closed, kitchen closed, too far ahead). When
-- none is left in the booking window, the first Sunday whose cut-off is still ahead.
create or replace function public.tb_next_orderable_sunday(p_now timestamptz) returns date
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  cfg jsonb := public.tb_config();
  v_today date := (p_now at time zone 'Europe/London')::date;
  v_sunday date := v_today + ((7 - extract(dow from v_today)::int) % 7);
  v_last date;
  v_day date;
begin
  select v_today + coalesce(max_advance_days, 56) into v_last
  from public.booking_policies where booking_type = 'sunday_lunch';
  v_last := coalesce(v_last, v_today + 56);
  v_day := v_sunday;
  while v_day <= v_last loop
    if (public.tb_day_refusal_for('sunday_lunch', v_day, 1, p_now, false, cfg,
                                  public.tb_hours_of(v_day))).reason is null then
      return v_day;
    end if;
    v_day := v_day + 7;
  end loop;
  if p_now >= ((v_sunday - 1) + (cfg ->> 'sunday_lunch_cutoff_time')::time)
              at time zone 'Europe/London' then
    return v_sunday + 7;
  end if;
  return v_sunday;
end
$$;

-- The ids of the dishes still served, by name as the guest saw it (case and surrounding spaces
-- ignored, as the menu's unique index on lower(name) has it): {"<lower name>": "<id>"}.
-- Names that match nothing are left out; the caller reports them.
create or replace function public.table_booking_menu_ids(p_names jsonb)
returns jsonb
language sql stable security definer set search_path = public, pg_temp as $$
  select coalesce(jsonb_object_agg(lower(m.name), m.id), '{}'::jsonb)
  from public.sunday_lunch_menu_items m
  where m.is_active
    and lower(m.name) in (select lower(btrim(n)) from jsonb_array_elements_text(p_names) n)
$$;

-- Every function of this file: executable by service_role only.
select table_booking_service.service_role_only(array[
  'public.table_booking_availability',
  'public.sunday_lunch_menu',
  'public.tb_booking_by_reference',
  'public.table_booking_detail',
  'public.table_booking_list',
  'public.tb_availability_json',
  'public.tb_availability_answer',
  'public.tb_availability_stamp',
  'public.tb_stamp_minute',
  'public.tb_availability_stamped',
  'public.table_booking_availability_for_key',
  'public.tb_next_orderable_sunday',
  'public.table_booking_menu_ids'
]);
