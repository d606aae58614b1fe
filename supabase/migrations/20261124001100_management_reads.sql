-- The reads of the pub's 2026 management-API contract (pub-api-2026.md sections 2, 3, 4 and 8),
-- served under /management/api: opening hours, a day's load with its per-slot table
-- availability, the seasonal booking period with its deposit, and the menus.
--
-- Nothing here decides a booking rule: availability is tb_day_slots_for (the engine our create
-- and GET /api/table-bookings/availability use), its refusals are mapped to the pub's public
-- reasons and messages (tb_public_reason, tb_public_message); the pacing grid is
-- tb_pacing_load, high chairs tb_high_chairs_free, durations tb_booking_minutes, the period
-- tb_period_for_date and every deposit tb_resolve_deposit, the rule create applies. Hours are
-- read with the rule of tb_service_hours (special_hours' value when set, else the weekly row of
-- the published version in force on that date). Read only; "now" is passed in (p_now).
-- New functions only; the pub's tables and rows are read, never changed.

set local check_function_bodies = off;

-- Hours --------------------------------------------------------------------------------------

-- One day's hours in the contract's shape: times as HH:MM:SS, kitchen null when it is closed or
-- a kitchen time is missing.
create or replace function public.management_hours_json(
  p_opens time, p_closes time, p_kitchen_opens time, p_kitchen_closes time,
  p_is_closed boolean, p_is_kitchen_closed boolean, p_schedule_config jsonb
) returns jsonb
language sql immutable set search_path = pg_catalog, pg_temp as $$
  select jsonb_build_object(
    'opens', to_char(p_opens, 'HH24:MI:SS'),
    'closes', to_char(p_closes, 'HH24:MI:SS'),
    'kitchen', case when not coalesce(p_is_kitchen_closed, false)
                         and p_kitchen_opens is not null and p_kitchen_closes is not null
                    then jsonb_build_object('opens', to_char(p_kitchen_opens, 'HH24:MI:SS'),
                                            'closes', to_char(p_kitchen_closes, 'HH24:MI:SS'))
               end,
    'is_closed', coalesce(p_is_closed, false),
    'is_kitchen_closed', coalesce(p_is_kitchen_closed, false),
    'schedule_config', case when jsonb_typeof(p_schedule_config) = 'array'
                            then p_schedule_config else '[]'::jsonb end)
$$;

-- The weekly row of the published version in force on p_date for its weekday (none: null).
create or replace function public.management_weekly_row(p_dow integer, p_date date)
returns public.business_hours
language sql stable security definer set search_path = public, pg_temp as $$
  select bh.*
  from public.business_hours bh
  left join public.business_hours_versions v on v.id = bh.version_id
  where bh.day_of_week = p_dow
    and (v.id is null or (v.status = 'published' and v.effective_from <= p_date))
  order by v.effective_from desc nulls last
  limit 1
$$;

-- The hours in force on one date, as the engine reads them (tb_service_hours' rule, field by
-- field): {opens, closes, kitchen, is_closed, is_kitchen_closed, schedule_config} plus special
-- (a special_hours row exists), note, and open (the pub open at all that day).
create or replace function public.management_day_hours(p_date date) returns jsonb
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  b public.business_hours := public.management_weekly_row(extract(dow from p_date)::int, p_date);
  s public.special_hours;
  v_opens time;
  v_closes time;
  v_closed boolean;
  v_config jsonb;
begin
  select sh.* into s from public.special_hours sh where sh.date = p_date;
  v_opens := coalesce(s.opens, b.opens);
  v_closes := coalesce(s.closes, b.closes);
  v_closed := coalesce(s.is_closed, b.is_closed, true) or v_opens is null or v_closes is null;
  -- The special day's named services; else the weekly ones, but only while the kitchen keeps
  -- its weekly times (services outside the day's kitchen hours would mislead).
  v_config := case when jsonb_typeof(s.schedule_config) = 'array'
                        and jsonb_array_length(s.schedule_config) > 0 then s.schedule_config
                   when s.kitchen_opens is null and s.kitchen_closes is null
                        and not coalesce(s.is_kitchen_closed, false) then b.schedule_config
                   else '[]'::jsonb end;
  return public.management_hours_json(
           case when v_closed then null else v_opens end,
           case when v_closed then null else v_closes end,
           coalesce(s.kitchen_opens, b.kitchen_opens), coalesce(s.kitchen_closes, b.kitchen_closes),
           v_closed, v_closed or coalesce(s.is_kitchen_closed, b.is_kitchen_closed, false),
           case when v_closed then '[]'::jsonb else v_config end)
         || jsonb_build_object('special', s.id is not null, 'note', s.note, 'open', not v_closed);
end
$$;

-- "2 hours 30 minutes", "1 hour", "45 minutes" (whole minutes, rounded up; at least 1 minute);
-- null for null.
create or replace function public.management_duration_words(p_span interval) returns text
language sql immutable set search_path = pg_catalog, pg_temp as $$
  select case when m / 60 > 0 and m % 60 > 0
              then (m / 60) || case when m / 60 = 1 then ' hour ' else ' hours ' end
                   || (m % 60) || case when m % 60 = 1 then ' minute' else ' minutes' end
              when m / 60 > 0 then (m / 60) || case when m / 60 = 1 then ' hour' else ' hours' end
              else m || case when m = 1 then ' minute' else ' minutes' end end
  from (select case when p_span is not null
                    then greatest(1, ceil(extract(epoch from p_span) / 60))::integer end as m) x
$$;

-- A day in words: "Open 12:00-23:00, kitchen 12:00-21:00", "Open 16:00-22:00, kitchen closed",
-- "Closed" (with the special day's note).
create or replace function public.management_day_summary(p_hours jsonb) returns text
language sql immutable set search_path = pg_catalog, pg_temp as $$
  select case when not (p_hours ->> 'open')::boolean
              then 'Closed' || coalesce(': ' || (p_hours ->> 'note'), '')
              else 'Open ' || left(p_hours ->> 'opens', 5) || '-' || left(p_hours ->> 'closes', 5)
                   || case when jsonb_typeof(p_hours -> 'kitchen') = 'object'
                           then ', kitchen ' || left(p_hours #>> '{kitchen,opens}', 5) || '-'
                                || left(p_hours #>> '{kitchen,closes}', 5)
                           else ', kitchen closed' end end
$$;

-- GET /management/api/business/hours (section 2): the weekly hours of the version in force on
-- p_date, the special days from today (London) to today + 90, and what is open now.
create or replace function public.management_business_hours(p_date date, p_now timestamptz)
returns jsonb
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  v_local timestamp := p_now at time zone 'Europe/London';
  v_today date := v_local::date;
  v_regular jsonb;
  v_special jsonb;
  v_week jsonb;
  v_today_hours jsonb := public.management_day_hours(v_today);
  v_open_until timestamptz;
  v_opens_at timestamptz;
  v_kitchen_until timestamptz;
  v_kitchen_at timestamptz;
begin
  select coalesce(jsonb_object_agg(d.name, public.management_hours_json(
           b.opens, b.closes, b.kitchen_opens, b.kitchen_closes, b.is_closed,
           b.is_kitchen_closed, b.schedule_config)) filter (where b.id is not null), '{}'::jsonb)
    into v_regular
  from (values (0, 'sunday'), (1, 'monday'), (2, 'tuesday'), (3, 'wednesday'), (4, 'thursday'),
               (5, 'friday'), (6, 'saturday')) d(dow, name)
  cross join lateral public.management_weekly_row(d.dow, p_date) b;

  select coalesce(jsonb_agg(jsonb_build_object('date', to_char(sh.date, 'YYYY-MM-DD'))
                            || (h - 'special' - 'open' - 'note')
                            || jsonb_build_object(
                                 'status', case when (h ->> 'open')::boolean then 'modified'
                                                else 'closed' end,
                                 'note', sh.note)
                            order by sh.date), '[]'::jsonb)
    into v_special
  from public.special_hours sh
  cross join lateral public.management_day_hours(sh.date) h
  where sh.date between v_today and v_today + 90;

  select coalesce(jsonb_agg(jsonb_build_object(
           'date', to_char(x.d, 'YYYY-MM-DD'),
           'dayName', to_char(x.d, 'FMDay'),
           'status', case when (h ->> 'special')::boolean then 'special' else 'normal' end,
           'summary', public.management_day_summary(h),
           'note', h ->> 'note') order by x.d), '[]'::jsonb)
    into v_week
  from generate_series(v_today, v_today + 6, interval '1 day') x(d)
  cross join lateral public.management_day_hours(x.d::date) h;

  -- What is open now: the opening spans of yesterday (past midnight) to a week ahead.
  with days as (
    select x::date as d, public.management_day_hours(x::date) as h
    from generate_series(v_today - 1, v_today + 7, interval '1 day') x
  ),
  spans as (
    select 'pub' as what,
           (d + (h ->> 'opens')::time) at time zone 'Europe/London' as starts,
           (d + (h ->> 'closes')::time
              + case when (h ->> 'closes')::time <= (h ->> 'opens')::time
                     then interval '1 day' else interval '0' end) at time zone 'Europe/London'
             as ends
    from days where (h ->> 'open')::boolean
    union all
    select 'kitchen',
           (d + (h #>> '{kitchen,opens}')::time) at time zone 'Europe/London',
           (d + (h #>> '{kitchen,closes}')::time
              + case when (h #>> '{kitchen,closes}')::time <= (h #>> '{kitchen,opens}')::time
                     then interval '1 day' else interval '0' end) at time zone 'Europe/London'
    from days where (h ->> 'open')::boolean and jsonb_typeof(h -> 'kitchen') = 'object'
  )
  select max(ends) filter (where what = 'pub' and starts <= p_now and p_now < ends),
         min(starts) filter (where what = 'pub' and starts > p_now),
         max(ends) filter (where what = 'kitchen' and starts <= p_now and p_now < ends),
         min(starts) filter (where what = 'kitchen' and starts > p_now)
    into v_open_until, v_opens_at, v_kitchen_until, v_kitchen_at
  from spans;

  return jsonb_build_object(
    'regularHours', v_regular,
    'specialHours', v_special,
    'currentStatus', jsonb_build_object(
      'isOpen', v_open_until is not null,
      'kitchenOpen', v_kitchen_until is not null,
      'closesIn', public.management_duration_words(v_open_until - p_now),
      'opensIn', case when v_open_until is null
                      then public.management_duration_words(v_opens_at - p_now) end,
      'currentTime', to_char(v_local, 'HH24:MI:SS'),
      'timestamp', public.tb_london_iso(p_now),
      'services', jsonb_build_object(
        'venue', v_open_until is not null,
        'kitchen', v_kitchen_until is not null,
        'sundayLunch', extract(dow from v_today) = 0
                       and jsonb_typeof(v_today_hours -> 'kitchen') = 'object')),
    'today', jsonb_build_object(
      'date', to_char(v_today, 'YYYY-MM-DD'),
      'dayName', to_char(v_today, 'FMDay'),
      'summary', public.management_day_summary(v_today_hours),
      'isSpecialHours', (v_today_hours ->> 'special')::boolean,
      'events', '[]'::jsonb),
    'upcomingWeek', v_week);
end
$$;

-- Load and table availability ------------------------------------------------------------------

-- The public reason (section 3.1) of a refusal of tb_day_refusal_for, tb_time_refusal_for or
-- tb_day_slots_for: this service's day and time codes by their meaning (a past time or a closed
-- day is closed, minimum notice too_late, the covers rule's FULL tables_full), the engine's own
-- codes (no_table, slot_full, outside_full, ...) by tb_public_reason; anything else unknown.
create or replace function public.management_public_reason(p_reason text) returns text
language sql immutable set search_path = public, pg_temp as $$
  select case
    when p_reason is null then null
    when p_reason in ('IN_PAST', 'CLOSED', 'KITCHEN_CLOSED') then 'closed'
    when p_reason = 'TOO_SOON' then 'too_late'
    when p_reason = 'PARTY_TOO_LARGE' then 'too_large'
    when p_reason = 'FULL' then 'tables_full'
    when p_reason in ('TOO_FAR', 'NOT_SUNDAY', 'CUT_OFF') then 'unknown'
    else public.tb_public_reason(p_reason)
  end
$$;

-- table_availability (section 3.1) for a party of p_party on p_date: every slot our engine
-- offers for a regular booking of that purpose and seating, available or not, with the public
-- reason and message of a refusal and the high chairs left over the slot's hold. Any failure of
-- the calculation answers calculation_state unknown, never an error.
create or replace function public.management_table_availability(
  p_date date,
  p_party integer,
  p_purpose text,
  p_outside boolean,
  p_accessible boolean,
  p_high_chairs integer,
  p_now timestamptz
) returns jsonb
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  v_purpose text := case when p_purpose = 'drinks' then 'drinks' else 'food' end;
  v_base jsonb := jsonb_build_object('contract_version', 1,
                                     'date', to_char(p_date, 'YYYY-MM-DD'),
                                     'party_size', p_party);
  cfg jsonb;
  h public.tb_hours;
  d record;
  v_max integer;
  v_guest integer;
  v_hold integer;
  v_public text;
  v_slots jsonb;
begin
  if p_party is null or p_party < 1 then
    return v_base || jsonb_build_object(
      'calculation_state', 'unknown', 'slots', '[]'::jsonb, 'public_reason', 'unknown',
      'message', public.tb_public_message('unknown'));
  end if;
  begin
    cfg := public.tb_config();
    h := public.tb_hours_of(p_date, v_purpose);
    select coalesce(max(bp.max_party_size), 20) into v_max
    from public.booking_policies bp where bp.booking_type = 'regular';
    select * into d from public.tb_day_refusal_for('regular', p_date, p_party, p_now, false,
                                                   cfg, h);
    if d.reason in ('PARTY_TOO_LARGE', 'CLOSED', 'KITCHEN_CLOSED') then
      v_public := public.management_public_reason(d.reason);
      return v_base || jsonb_build_object(
        'calculation_state', 'complete', 'slots', '[]'::jsonb, 'public_reason', v_public,
        'message', public.tb_public_message(v_public))
        || case when d.reason = 'KITCHEN_CLOSED' then '{"kitchen_closed": true}'::jsonb
                else '{}'::jsonb end;
    end if;
    if public.tb_venue_has_tables() then
      select m.guest_minutes, m.guest_minutes + m.turnaround_minutes into v_guest, v_hold
      from public.tb_booking_minutes(v_purpose, p_party, p_date) m;
    else
      v_guest := (cfg ->> 'duration_minutes')::int;
      v_hold := v_guest;
    end if;
    select coalesce(jsonb_agg(jsonb_build_object(
             'time', to_char(x.slot_time, 'HH24:MI'),
             'state', case when r.pub is null then 'available' else 'unavailable' end,
             'public_reason', r.pub,
             'message', public.tb_public_message(r.pub),
             'high_chairs_remaining', public.tb_high_chairs_free(
               st.at, st.at + make_interval(mins => v_hold), p_now))
             order by x.n), '[]'::jsonb)
      into v_slots
    from public.tb_day_slots_for(
           p_date, p_party, 'regular', p_now, false, cfg, h,
           jsonb_build_object('purpose', v_purpose, 'outside', coalesce(p_outside, false),
                              'accessible', coalesce(p_accessible, false),
                              'high_chairs', greatest(coalesce(p_high_chairs, 0), 0)))
         with ordinality as x(slot_time, available_capacity, reason, message, n)
    cross join lateral (
      select public.management_public_reason(coalesce(d.reason, x.reason)) as pub) r
    cross join lateral (
      select public.tb_start_instant(p_date, x.slot_time, h.opens, h.overnight) as at) st;
    return v_base || jsonb_build_object(
      'calculation_state', 'complete',
      'purpose', v_purpose,
      'outside', coalesce(p_outside, false),
      'requires_accessible_table', coalesce(p_accessible, false),
      'max_party_size_online', v_max,
      'duration_minutes', v_guest,
      'slots', v_slots);
  exception when others then
    return v_base || jsonb_build_object(
      'calculation_state', 'unknown', 'slots', '[]'::jsonb, 'public_reason', 'unknown',
      'message', public.tb_public_message('unknown'));
  end;
end
$$;

-- An integer setting within [p_min, p_max], else p_default (the load's thresholds).
create or replace function public.management_setting_in(
  p_key text, p_default integer, p_min integer, p_max integer
) returns integer
language sql stable security definer set search_path = public, pg_temp as $$
  select case when v between p_min and p_max then v else p_default end
  from (select public.tb_setting_int(p_key, null) as v) s
$$;

-- GET /management/api/table-bookings/load (section 3): the day's booked covers, the busy
-- thresholds, the kitchen's pacing grid and, for a party (p_party not null), its
-- table_availability.
create or replace function public.management_table_load(
  p_date date,
  p_party integer,
  p_purpose text,
  p_outside boolean,
  p_accessible boolean,
  p_high_chairs integer,
  p_now timestamptz
) returns jsonb
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  v_window integer := public.management_setting_in('pacing_window_minutes', 60, 30, 180);
  v_busy integer := public.management_setting_in('pacing_busy_threshold_covers', 30, 2, 200);
  v_filling integer := public.tb_setting_int('pacing_filling_threshold_covers', null);
  lim record;
  v_reserve integer;
  h public.tb_hours := public.tb_hours_of(p_date, 'food');
  v_bookings jsonb;
  v_slots jsonb;
begin
  if v_filling is null or v_filling < 1 or v_filling >= v_busy then
    v_filling := least(20, v_busy - 1);
  end if;
  select * into lim from public.tb_pacing_limits(p_date);
  -- The reserve as tb_pacing_limits takes it (the date's special_hours, else the setting).
  select coalesce(
           (select sh.kitchen_walk_in_reserve from public.special_hours sh where sh.date = p_date),
           case when extract(dow from p_date) = 0
                then public.get_setting_int('kitchen_walk_in_reserve_sunday', 6)
                else public.get_setting_int('kitchen_walk_in_reserve_regular', 6) end)
    into v_reserve;

  select coalesce(jsonb_agg(jsonb_build_object('time', t, 'covers', covers) order by t),
                  '[]'::jsonb)
    into v_bookings
  from (select to_char(b.booking_time, 'HH24:MI') as t,
               sum(coalesce(b.committed_party_size, b.party_size))::integer as covers
        from public.table_bookings b
        where b.booking_date = p_date
          and public.tb_is_live(b.status::text, b.left_at, b.hold_expires_at,
                                b.payment_status::text, p_now)
        group by 1) x;

  -- The kitchen's 15-minute grid, from its opening (inclusive) to its closing (exclusive; to
  -- midnight when it closes after midnight); none when the pub or the kitchen is closed.
  select coalesce(jsonb_agg(jsonb_build_object(
           'time', to_char(p.slot_time, 'HH24:MI'),
           'covers', p.food_covers,
           'remaining', greatest(0, p.food_ceiling - p.food_covers),
           'high_chairs_remaining', public.tb_high_chairs_free(
             (p_date + p.slot_time) at time zone 'Europe/London',
             (p_date + p.slot_time) at time zone 'Europe/London' + interval '15 minutes', p_now))
           order by p.slot_time), '[]'::jsonb)
    into v_slots
  from public.tb_pacing_load(p_date, p_now) p
  where h.kitchen_open
    and p.slot_time >= h.opens
    and (h.overnight or p.slot_time < h.closes);

  return jsonb_build_object(
    'date', to_char(p_date, 'YYYY-MM-DD'),
    'table_availability', case when p_party is not null then
      public.management_table_availability(p_date, p_party, p_purpose, p_outside,
                                           p_accessible, p_high_chairs, p_now) end,
    'window_minutes', v_window,
    'busy_threshold_covers', v_busy,
    'filling_threshold_covers', v_filling,
    'bookings', v_bookings,
    'capacity', jsonb_build_object(
      'enabled', lim.pacing_enabled,
      'window_minutes', lim.window_minutes,
      'ceiling_covers', lim.food_ceiling,
      'walk_in_reserve', v_reserve),
    'slots', v_slots);
end
$$;

-- Booking periods --------------------------------------------------------------------------------

-- One answer of tb_resolve_deposit as the contract prices it: {required, amount, rule, basis,
-- rate, reason, refund_cutoff_days, refund_policy}.
create or replace function public.management_deposit_json(p_verdict jsonb) returns jsonb
language sql immutable set search_path = pg_catalog, pg_temp as $$
  select jsonb_build_object(
    'required', coalesce((p_verdict ->> 'deposit_required')::boolean, false),
    'amount', coalesce(p_verdict -> 'deposit_amount', '0'::jsonb),
    'rule', p_verdict -> 'deposit_rule',
    'basis', p_verdict -> 'deposit_basis',
    'rate', p_verdict -> 'deposit_rate',
    'reason', p_verdict -> 'reason',
    'refund_cutoff_days', p_verdict -> 'refund_cutoff_days',
    'refund_policy', p_verdict -> 'refund_policy')
$$;

-- GET /management/api/table-bookings/periods (section 4): the live period covering p_date and,
-- for a party, what the deposit would be if the guest answers yes (the period accepted) and if
-- they answer no: tb_resolve_deposit both times, the rule the create applies.
create or replace function public.management_booking_period(p_date date, p_party integer)
returns jsonb
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  per public.booking_periods := public.tb_period_for_date(p_date);
  v_phone text := public.tb_config() ->> 'contact_phone';
  v_bookable boolean;
  v_menu jsonb := '[]'::jsonb;
  v_accepted jsonb;
  v_declined jsonb;
  v_rejection jsonb;
begin
  if per.id is null then
    return jsonb_build_object('date', to_char(p_date, 'YYYY-MM-DD'), 'period', null,
                              'deposit', null);
  end if;
  v_bookable := not per.requires_preorder or exists (
    select 1 from public.booking_period_menu_items m where m.period_id = per.id and m.is_active);
  if v_bookable and per.requires_preorder then
    select coalesce(jsonb_agg(jsonb_build_object(
             'id', m.id, 'course', m.course, 'name', m.name, 'description', m.description,
             'price_gbp', m.price_gbp, 'allergens', m.allergens) order by m.sort_order, m.name),
           '[]'::jsonb)
      into v_menu
    from public.booking_period_menu_items m where m.period_id = per.id and m.is_active;
  end if;
  if p_party is not null then
    v_accepted := public.tb_resolve_deposit(p_party, p_date, per.id, true, 'food', false);
    v_declined := public.tb_resolve_deposit(p_party, p_date, per.id, false, 'food', false);
    if v_accepted ->> 'blocked' is not null then
      v_rejection := jsonb_build_object(
        'code', v_accepted ->> 'blocked',
        'message', case v_accepted ->> 'blocked'
          when 'period_party_too_small'
            then 'That booking period has a larger minimum party size.'
          when 'period_party_too_large'
            then 'That booking period has a smaller maximum party size.'
          when 'period_menu_not_ready'
            then 'The menu for this period has not been published yet, so it cannot be booked. '
                 'Please give us a ring on ' || v_phone || '.'
          else 'That party size cannot be booked online. Please give us a ring on '
               || v_phone || '.' end);
    end if;
  end if;
  return jsonb_build_object(
    'date', to_char(p_date, 'YYYY-MM-DD'),
    'period', jsonb_build_object(
      'id', per.id, 'code', per.code, 'period_kind', per.period_kind, 'name', per.name,
      'guest_question', per.guest_question, 'guest_blurb', per.guest_blurb,
      'starts_on', to_char(per.starts_on, 'YYYY-MM-DD'),
      'ends_on', to_char(per.ends_on, 'YYYY-MM-DD'),
      'requires_preorder', per.requires_preorder,
      'preorder_cutoff_days', per.preorder_cutoff_days,
      'deposit_basis', per.deposit_basis, 'deposit_amount', per.deposit_amount,
      'refund_cutoff_days', per.refund_cutoff_days,
      'min_party_size', per.min_party_size, 'max_party_size', per.max_party_size,
      'min_notice_hours', per.min_notice_hours,
      'bookable', v_bookable,
      'not_bookable_reason', case when not v_bookable then 'menu_not_ready' end,
      'not_bookable_message', case when not v_bookable then
        'The menu for this period has not been published yet, so it cannot be booked. '
        'Please give us a ring on ' || v_phone || '.' end,
      'menu', v_menu,
      'course_policy', null),
    'deposit', case when p_party is not null then jsonb_build_object(
      'party_size', p_party,
      'collect', public.get_setting_bool('booking_period_deposits_enabled', true),
      'if_accepted', case when v_bookable and v_rejection is null
                          then public.management_deposit_json(v_accepted) end,
      'if_accepted_rejection', v_rejection,
      'if_declined', case when v_declined ->> 'blocked' is null
                          then public.management_deposit_json(v_declined) end) end);
end
$$;

-- Menus ------------------------------------------------------------------------------------------

-- GET /management/api/menu/sunday-lunch (section 8): {mains, sides}, or null when there is no
-- dish. Where the pub's menu tables exist, the dishes assigned to its active sunday_lunch menu
-- (a category code naming a side is a side, one naming an extra is left out, anything else a
-- main), else its active Sunday-lunch dishes; without those tables (a fresh database) the
-- sunday_lunch_menu_items our 2025 routes serve.
create or replace function public.management_sunday_lunch_menu() returns jsonb
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  v_items jsonb;
begin
  if to_regclass('public.menu_menus') is not null then
    select jsonb_agg(i order by i ->> 'category_name', (i ->> 'sort_order')::int, i ->> 'name')
      into v_items
    from (
      select jsonb_build_object(
               'id', d.id, 'name', d.name, 'description', d.description,
               'price', round(d.selling_price, 2),
               'dietary_info', to_jsonb(coalesce(d.dietary_flags, '{}')),
               'allergens', to_jsonb(coalesce(d.allergen_flags, '{}')),
               'kind', case when lower(coalesce(c.code, '')) like '%extra%' then 'extra'
                            when lower(coalesce(c.code, '')) like '%side%' then 'side'
                            else 'main' end,
               'category_name', coalesce(c.name, ''), 'sort_order', a.sort_order) as i
      from public.menu_menus mm
      join public.menu_dish_menu_assignments a on a.menu_id = mm.id
      join public.menu_dishes d on d.id = a.dish_id and d.is_active
      left join public.menu_categories c on c.id = a.category_id
      where mm.code = 'sunday_lunch' and mm.is_active
    ) x;
    if v_items is null then
      select jsonb_agg(i order by i ->> 'category_name', (i ->> 'sort_order')::int, i ->> 'name')
        into v_items
      from (
        select jsonb_build_object(
                 'id', d.id, 'name', d.name, 'description', d.description,
                 'price', round(d.selling_price, 2),
                 'dietary_info', to_jsonb(coalesce(d.dietary_flags, '{}')),
                 'allergens', to_jsonb(coalesce(d.allergen_flags, '{}')),
                 'kind', case when lower(coalesce(l.category, '')) like '%side%' then 'side'
                              else 'main' end,
                 'category_name', coalesce(l.category, ''),
                 'sort_order', coalesce(l.display_order, 0)) as i
        from public.menu_dishes d
        left join public.sunday_lunch_menu_items l
          on l.is_active and lower(btrim(l.name)) = lower(btrim(d.name))
        where d.is_active and d.is_sunday_lunch
      ) x;
    end if;
  else
    select jsonb_agg(jsonb_build_object(
             'id', m.id, 'name', m.name, 'description', m.description,
             'price', round(m.price, 2),
             'dietary_info', to_jsonb(coalesce(m.dietary_info, '{}')),
             'allergens', to_jsonb(coalesce(m.allergens, '{}')),
             'kind', m.category) order by m.category, m.display_order, m.name)
      into v_items
    from public.sunday_lunch_menu_items m where m.is_active;
  end if;
  if v_items is null then
    return null;
  end if;
  return jsonb_build_object(
    'mains', (select coalesce(jsonb_agg(
                (i - 'kind' - 'category_name' - 'sort_order')
                || '{"is_available": true}'::jsonb), '[]'::jsonb)
              from jsonb_array_elements(v_items) i where i ->> 'kind' = 'main'),
    'sides', (select coalesce(jsonb_agg(
                (i - 'kind' - 'category_name' - 'sort_order')
                || jsonb_build_object('is_available', true,
                                      'included', (i ->> 'price')::numeric = 0)), '[]'::jsonb)
              from jsonb_array_elements(v_items) i where i ->> 'kind' = 'side'));
end
$$;

-- GET /management/api/menu?menu=<code> (section 8): the active menu of that code, its
-- categories in their order with the active dishes assigned to them that are on sale on
-- p_today (available_from / available_until, whole London days, inclusive). Null when the
-- pub's menu tables do not exist (a fresh database) or there is no such active menu.
create or replace function public.management_menu(p_code text, p_today date) returns jsonb
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  mm record;
  v_sections jsonb;
begin
  if to_regclass('public.menu_menus') is null then
    return null;
  end if;
  select m.id, m.code, m.name into mm
  from public.menu_menus m where m.code = p_code and m.is_active;
  if mm.id is null then
    return null;
  end if;
  select coalesce(jsonb_agg(jsonb_build_object(
           'id', c.id, 'name', c.name, 'description', c.description,
           'sort_order', cm.sort_order,
           'items', coalesce((
             select jsonb_agg(jsonb_build_object(
                      'id', d.id, 'name', d.name, 'description', d.description,
                      'price', round(d.selling_price, 2),
                      'calories', d.calories,
                      'dietary_info', to_jsonb(coalesce(d.dietary_flags, '{}')),
                      'allergens', to_jsonb(coalesce(d.allergen_flags, '{}')),
                      'is_available', true,
                      'is_special', a.is_special,
                      'is_new', d.new_until is not null and p_today <= d.new_until
                                and (d.new_from is null or d.new_from <= p_today),
                      'new_until', to_char(d.new_until, 'YYYY-MM-DD'),
                      'available_from', to_char(a.available_from, 'YYYY-MM-DD'),
                      'available_until', to_char(a.available_until, 'YYYY-MM-DD'),
                      'image_url', d.image_url,
                      'sort_order', a.sort_order) order by a.sort_order, d.name)
             from public.menu_dish_menu_assignments a
             join public.menu_dishes d on d.id = a.dish_id and d.is_active
             where a.menu_id = mm.id and a.category_id = c.id
               and (a.available_from is null or a.available_from <= p_today)
               and (a.available_until is null or a.available_until >= p_today)),
             '[]'::jsonb)) order by cm.sort_order, c.name), '[]'::jsonb)
    into v_sections
  from public.menu_category_menus cm
  join public.menu_categories c on c.id = cm.category_id and c.is_active
  where cm.menu_id = mm.id;
  return jsonb_build_object('menu_code', mm.code, 'menu_name', mm.name, 'sections', v_sections);
end
$$;

-- Every function of this file: executable by service_role only.
select table_booking_service.service_role_only(array[
  'public.management_hours_json',
  'public.management_weekly_row',
  'public.management_day_hours',
  'public.management_duration_words',
  'public.management_day_summary',
  'public.management_business_hours',
  'public.management_public_reason',
  'public.management_table_availability',
  'public.management_setting_in',
  'public.management_table_load',
  'public.management_deposit_json',
  'public.management_booking_period',
  'public.management_sunday_lunch_menu',
  'public.management_menu'
]);
