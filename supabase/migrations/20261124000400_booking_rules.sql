-- The booking rules, once: configuration, opening hours, the slot grid, the one capacity rule,
-- and the booking policy. Availability and the booking transaction both call these functions,
-- so the picker and the gate can never disagree.
--
-- Time: booking_date/booking_time are Europe/London wall clock; a booking's instants
-- (start_datetime, end_datetime) are timestamptz. "Now" is always passed in (p_now) so that the
-- service, not the database clock, decides what time it is (and tests can move it).

-- The day's hours as one value (tb_day_hours' fields), to hand to the *_for functions.
do $$
begin
  if to_regtype('public.tb_hours') is null then
    create type public.tb_hours as (
      pub_open boolean, kitchen_open boolean, opens time, closes time, overnight boolean,
      source text, note text);
  end if;
end
$$;

-- Function bodies are checked when called, not when made: each function is defined once,
-- in the file of its concern, in any order.
set local check_function_bodies = off;

-- The configuration in one pass over system_settings (it is read by every booking rule, several
-- times a request). Same keys, same defaults and the same two shapes of a value as before:
-- {"value": X} (the app's convention since 2026) or X itself.
create or replace function public.tb_config() returns jsonb
language sql stable security definer set search_path = public, pg_temp as $$
  with s as (
    select coalesce(jsonb_object_agg(key, case when jsonb_typeof(value) = 'object'
                                                    and value ? 'value'
                                               then value -> 'value' else value end),
                    '{}'::jsonb) as v
    from public.system_settings
    where key in ('restaurant_capacity', 'table_booking_slot_interval_minutes',
                  'table_booking_last_start_margin_minutes', 'table_booking_duration_minutes',
                  'sunday_lunch_deposit_per_guest', 'sunday_lunch_payment_hold_minutes',
                  'sunday_lunch_cutoff_time', 'contact_phone',
                  'table_booking_alternative_days')
  )
  select jsonb_build_object(
    'capacity', coalesce(
      case jsonb_typeof(v -> 'restaurant_capacity')
        when 'object' then (v #>> '{restaurant_capacity,max_capacity}')::int
        when 'number' then (v #>> '{restaurant_capacity}')::int end,
      50),
    -- Every 15 minutes where the venue seats by tables (the pub's own grid), else every 30.
    'slot_interval_minutes',
      coalesce((v #>> '{table_booking_slot_interval_minutes}')::int,
               case when public.tb_venue_has_tables() then 15 else 30 end),
    'last_start_margin_minutes',
      coalesce((v #>> '{table_booking_last_start_margin_minutes}')::int, 30),
    'duration_minutes', coalesce((v #>> '{table_booking_duration_minutes}')::int, 120),
    'deposit_per_guest',
      coalesce((v #>> '{sunday_lunch_deposit_per_guest}')::numeric(10, 2), 5.00),
    'payment_hold_minutes', coalesce((v #>> '{sunday_lunch_payment_hold_minutes}')::int, 30),
    'sunday_lunch_cutoff_time',
      coalesce((v #>> '{sunday_lunch_cutoff_time}')::time, '13:00'::time),
    'contact_phone', coalesce(v #>> '{contact_phone}', '01753 682707'),
    'alternative_days', coalesce((v #>> '{table_booking_alternative_days}')::int, 14)
  )
  from s
$$;

-- A date in words, as a guest reads it: "Sunday 6 December".
create or replace function public.tb_day_words(p_date date) returns text
language sql immutable set search_path = pg_catalog, pg_temp as $$
  select to_char(p_date, 'FMDay FMDD FMMonth')
$$;

-- An instant as London wall-clock ISO 8601 with its offset: "2026-12-05T13:00:00+00:00".
create or replace function public.tb_london_iso(p_at timestamptz) returns text
language sql stable set search_path = pg_catalog, pg_temp as $$
  select to_char(p_at at time zone 'Europe/London', 'YYYY-MM-DD"T"HH24:MI:SS') || '+'
         || to_char((p_at at time zone 'Europe/London') - (p_at at time zone 'UTC'), 'HH24:MI')
$$;

-- Opening hours of one service day ----------------------------------------------------------
-- Rule of the pub's app: each field is special_hours' value if set, else business_hours' (from
-- the published version in force on that date); the pub is closed if is_closed or its hours are
-- missing; food needs the kitchen open with both kitchen times set. Closing at or before opening
-- means closing after midnight.
-- The hours a booking of p_purpose needs: the kitchen's for food, the pub's for drinks (opens and
-- closes are then the pub's, and kitchen_open means "open for this booking").
create or replace function public.tb_service_hours(
  p_date date,
  p_purpose text,
  out pub_open boolean,
  out kitchen_open boolean,
  out opens time,
  out closes time,
  out overnight boolean,
  out source text,
  out note text
)
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  b public.business_hours;
  s public.special_hours;
  v_closed boolean;
  v_kitchen_closed boolean;
begin
  select bh.* into b
  from public.business_hours bh
  left join public.business_hours_versions v on v.id = bh.version_id
  where bh.day_of_week = extract(dow from p_date)::int
    and (v.id is null or (v.status = 'published' and v.effective_from <= p_date))
  order by v.effective_from desc nulls last
  limit 1;
  select sh.* into s from public.special_hours sh where sh.date = p_date;

  source := case when s.id is not null then 'special_hours' else 'business_hours' end;
  note := s.note;
  v_closed := coalesce(s.is_closed, b.is_closed, true);
  pub_open := not v_closed
              and coalesce(s.opens, b.opens) is not null
              and coalesce(s.closes, b.closes) is not null;
  if p_purpose = 'drinks' then
    kitchen_open := pub_open;
    opens := case when pub_open then coalesce(s.opens, b.opens) end;
    closes := case when pub_open then coalesce(s.closes, b.closes) end;
  else
    v_kitchen_closed := coalesce(s.is_kitchen_closed, b.is_kitchen_closed, false);
    opens := coalesce(s.kitchen_opens, b.kitchen_opens);
    closes := coalesce(s.kitchen_closes, b.kitchen_closes);
    kitchen_open := pub_open and not v_kitchen_closed and opens is not null
                    and closes is not null;
    if not kitchen_open then
      opens := null;
      closes := null;
    end if;
  end if;
  overnight := kitchen_open and closes <= opens;
end
$$;

-- The kitchen's hours (tb_service_hours for food).
create or replace function public.tb_day_hours(
  p_date date,
  out pub_open boolean,
  out kitchen_open boolean,
  out opens time,
  out closes time,
  out overnight boolean,
  out source text,
  out note text
)
language sql stable security definer set search_path = public, pg_temp as $$
  select * from public.tb_service_hours(p_date, 'food')
$$;

-- The slot grid: start times every p_interval_minutes from opening, the last one at least
-- p_margin_minutes before the kitchen closes (past midnight when it closes after midnight).
create or replace function public.tb_slot_times(
  p_opens time,
  p_closes time,
  p_interval_minutes integer,
  p_margin_minutes integer
) returns table (slot_time time, minutes_after_opening integer)
language sql immutable set search_path = pg_catalog, pg_temp as $$
  with span as (
    select (extract(epoch from (p_closes - p_opens))::int / 60
            + case when p_closes <= p_opens then 1440 else 0 end) as minutes
  )
  select (p_opens + make_interval(mins => g))::time, g
  from span, generate_series(0, span.minutes - p_margin_minutes, greatest(p_interval_minutes, 1)) g
  where p_opens is not null and p_closes is not null
$$;

-- The instant a booking starts, as PL/pgSQL: a single RETURN is
-- evaluated on PL/pgSQL's fast path, where a SQL function would start an executor per call, and
-- a day's availability calls it once per slot.
create or replace function public.tb_start_instant(
  p_date date, p_time time, p_opens time, p_overnight boolean
) returns timestamptz
language plpgsql immutable set search_path = pg_catalog, pg_temp as $$
begin
  return ((p_date + case when p_overnight and p_time < p_opens then 1 else 0 end) + p_time)
         at time zone 'Europe/London';
end
$$;

-- Covers a slot can seat: booking_time_slots for that weekday, time and type (a row for the
-- type wins over a row for both types), else the restaurant's capacity.
create or replace function public.tb_slot_capacity(
  p_date date, p_time time, p_booking_type public.table_booking_type, p_default integer
) returns integer
language sql stable security definer set search_path = public, pg_temp as $$
  select coalesce(
    (select max_covers from public.booking_time_slots
      where day_of_week = extract(dow from p_date)::int and slot_time = p_time
        and is_active and booking_type = p_booking_type
      limit 1),
    (select max_covers from public.booking_time_slots
      where day_of_week = extract(dow from p_date)::int and slot_time = p_time
        and is_active and booking_type is null
      limit 1),
    p_default)
$$;

-- the default capacity may be handed in.
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

create or replace function public.tb_day_refusal(
  p_booking_type public.table_booking_type,
  p_date date,
  p_party_size integer,
  p_now timestamptz,
  p_override boolean,
  out reason text,
  out message text
)
language sql stable security definer set search_path = public, pg_temp as $$
  select r.reason, r.message
  from public.tb_day_refusal_for(p_booking_type, p_date, p_party_size, p_now, p_override,
                                 public.tb_config(), public.tb_hours_of(p_date)) r
$$;

create or replace function public.tb_time_refusal(
  p_booking_type public.table_booking_type,
  p_start timestamptz,
  p_now timestamptz,
  p_override boolean,
  out reason text,
  out message text
)
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  v_notice integer;
begin
  select coalesce(min_advance_hours, 0) into v_notice
  from public.booking_policies where booking_type = p_booking_type;
  select r.reason, r.message into reason, message
  from public.tb_time_refusal_for(p_start, p_now, p_override, coalesce(v_notice, 0)) r;
end
$$;

create or replace function public.tb_day_slots(
  p_date date,
  p_party_size integer,
  p_booking_type public.table_booking_type,
  p_now timestamptz,
  p_override boolean default false,
  p_options jsonb default '{}'::jsonb
) returns table (slot_time time, available_capacity integer, reason text, message text)
language sql stable security definer set search_path = public, pg_temp as $$
  select * from public.tb_day_slots_for(
    p_date, p_party_size, p_booking_type, p_now, p_override, public.tb_config(),
    public.tb_hours_of(p_date, coalesce(p_options ->> 'purpose', 'food')), p_options)
$$;

-- Item 9 -----------------------------------------------------------------------------------------
-- a time is bookable only when it is one of the day's slots
-- (tb_slot_times, the grid availability offers), so create and change accept exactly what the
-- picker shows. Before, any time within the kitchen's hours passed (19:10 with slots every 30
-- minutes).
create or replace function public.tb_check_slot(
  p_booking_type public.table_booking_type,
  p_date date,
  p_time time,
  p_party_size integer,
  p_now timestamptz,
  p_override boolean,
  p_cfg jsonb default null,
  p_purpose text default 'food'
) returns timestamptz
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  cfg jsonb := coalesce(p_cfg, public.tb_config());
  d record;
  h public.tb_hours := public.tb_hours_of(p_date, p_purpose);
  t record;
  v_offset integer;
  v_span integer;
  v_start timestamptz;
  v_interval integer := greatest((cfg ->> 'slot_interval_minutes')::int, 1);
  v_margin integer := (cfg ->> 'last_start_margin_minutes')::int;
  v_before integer;
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
  if v_offset < 0 or v_offset > v_span - v_margin then
    raise exception using errcode = 'P0001', message = 'POLICY_VIOLATION',
      detail = format(case when p_purpose = 'drinks'
                           then 'We do not take drinks bookings at %s. On %s the pub is open '
                                'from %s to %s, and the last table can be booked for %s.'
                           else 'The kitchen is not serving at %s. On %s food is served from '
                                '%s to %s, and the last table can be booked for %s.' end,
                      to_char(p_time, 'HH24:MI'), public.tb_day_words(p_date),
                      to_char(h.opens, 'HH24:MI'), to_char(h.closes, 'HH24:MI'),
                      to_char(h.opens + make_interval(mins => v_span - v_margin), 'HH24:MI')),
      hint = '{"reason": "KITCHEN_CLOSED"}';
  end if;
  -- One of tb_slot_times' starts: within its span (above) and a whole number of intervals from
  -- opening, which is the grid's own arithmetic without making the grid.
  if v_offset is null or v_offset % v_interval <> 0 then
    v_before := (v_offset / v_interval) * v_interval;
    raise exception using errcode = 'P0001', message = 'POLICY_VIOLATION',
      detail = format('Tables are booked every %s minutes from %s, so %s is not a time we can '
                      'book. %s',
                      v_interval, to_char(h.opens, 'HH24:MI'), to_char(p_time, 'HH24:MI'),
                      case when v_before + v_interval <= v_span - v_margin
                           then format('The nearest times are %s and %s.',
                                       to_char(h.opens + make_interval(mins => v_before),
                                               'HH24:MI'),
                                       to_char(h.opens + make_interval(
                                                 mins => v_before + v_interval), 'HH24:MI'))
                           else format('The nearest time is %s.',
                                       to_char(h.opens + make_interval(mins => v_before),
                                               'HH24:MI')) end),
      hint = jsonb_build_object(
        'reason', 'NOT_A_SLOT',
        'slot_interval_minutes', v_interval,
        'nearest', to_jsonb(array_remove(array[
          to_char(h.opens + make_interval(mins => v_before), 'HH24:MI'),
          case when v_before + v_interval <= v_span - v_margin
               then to_char(h.opens + make_interval(mins => v_before + v_interval), 'HH24:MI')
          end], null)))::text;
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
  v_start timestamptz := coalesce(p_start, (p_date + p_time) at time zone 'Europe/London');
  v_duration integer := coalesce(p_duration_minutes, 120);
  v_free integer;
begin
  -- v_half_hour: half hours since the epoch (about a million now), an integer loop variable.
  for v_half_hour in
    floor(extract(epoch from v_start) / 1800)::integer
    .. ceil(extract(epoch from v_start + make_interval(mins => v_duration)) / 1800)::integer - 1
  loop
    perform pg_advisory_xact_lock(
      hashtextextended('table_bookings:half_hour:' || v_half_hour::text, 0));
  end loop;
  v_free := public.table_booking_covers_free(p_date, p_time, v_start, v_duration,
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

-- Why one start time cannot be booked, as a pure function of the minimum notice: the rule of
-- tb_time_refusal, inlinable so that a whole day's slots are judged in one query.
create or replace function public.tb_time_refusal_for(
  p_start timestamptz,
  p_now timestamptz,
  p_override boolean,
  p_notice_hours integer
) returns table (reason text, message text)
language sql immutable as $$
  select case when p_start <= p_now then 'IN_PAST'
              when not p_override and p_start < p_now + make_interval(hours => p_notice_hours)
                then 'TOO_SOON' end,
         case when p_start <= p_now then 'That time has already passed.'
              when not p_override and p_start < p_now + make_interval(hours => p_notice_hours)
                then format('Bookings must be made at least %s hours in advance.', p_notice_hours)
         end
$$;

create or replace function public.tb_hours_of(p_date date, p_purpose text default 'food')
returns public.tb_hours
language sql stable security definer set search_path = public, pg_temp as $$
  select row(h.pub_open, h.kitchen_open, h.opens, h.closes, h.overnight, h.source,
             h.note)::public.tb_hours
  from public.tb_service_hours(p_date, p_purpose) h
$$;

-- Why Sunday lunch cannot be had on a day that is not a Sunday, in words, for the booking policy
-- (tb_day_refusal_for) and the menu (sunday_lunch_menu) alike.
create or replace function public.tb_not_sunday_message(p_date date) returns text
language sql immutable set search_path = public, pg_temp as $$
  select format('Sunday lunch is served on Sundays only, and %s is not a Sunday.',
                public.tb_day_words(p_date))
$$;

-- Why a whole day cannot be booked for this party and type (the rules of tb_day_refusal, whose
-- body moved here), given the configuration and the day's hours the caller has read.
create or replace function public.tb_day_refusal_for(
  p_booking_type public.table_booking_type,
  p_date date,
  p_party_size integer,
  p_now timestamptz,
  p_override boolean,
  cfg jsonb,
  h public.tb_hours,
  out reason text,
  out message text
)
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  pol public.booking_policies;
  v_today date := (p_now at time zone 'Europe/London')::date;
  v_cutoff timestamptz;
begin
  select * into pol from public.booking_policies where booking_type = p_booking_type;
  if p_party_size > coalesce(pol.max_party_size, 20) then
    reason := 'PARTY_TOO_LARGE';
    message := format('We take bookings online for up to %s guests. For a larger party please '
                      'call us on %s.', coalesce(pol.max_party_size, 20), cfg ->> 'contact_phone');
    return;
  end if;
  if p_booking_type = 'sunday_lunch' and extract(dow from p_date) <> 0 then
    reason := 'NOT_SUNDAY';
    message := public.tb_not_sunday_message(p_date);
    return;
  end if;
  -- Yesterday's service day is not over while its kitchen, open past midnight, still serves;
  -- its individual times are then judged one by one (tb_time_refusal).
  if p_date < v_today - 1 or (p_date = v_today - 1 and not coalesce(h.overnight, false)) then
    reason := 'IN_PAST';
    message := format('%s has already passed.', public.tb_day_words(p_date));
    return;
  end if;
  if p_date > v_today + coalesce(pol.max_advance_days, 56) then
    reason := 'TOO_FAR';
    message := format('Bookings open %s days ahead: the latest date you can book today is %s.',
                      coalesce(pol.max_advance_days, 56),
                      public.tb_day_words(v_today + coalesce(pol.max_advance_days, 56)));
    return;
  end if;
  if p_booking_type = 'sunday_lunch' and not p_override then
    v_cutoff := ((p_date - 1) + (cfg ->> 'sunday_lunch_cutoff_time')::time)
                at time zone 'Europe/London';
    if p_now >= v_cutoff then
      reason := 'CUT_OFF';
      message := format('Sunday lunch for %s had to be booked by %s on Saturday %s, so that '
                        'the kitchen can prepare your roasts.',
                        public.tb_day_words(p_date),
                        lower(to_char((cfg ->> 'sunday_lunch_cutoff_time')::time, 'FMHH12:MIam')),
                        to_char(p_date - 1, 'FMDD FMMonth'));
      return;
    end if;
  end if;
  if not h.pub_open then
    reason := 'CLOSED';
    message := format('The Anchor is closed on %s.%s', public.tb_day_words(p_date),
                      coalesce(' ' || rtrim(h.note, '.') || '.', ''));
    return;
  end if;
  if not h.kitchen_open then
    reason := 'KITCHEN_CLOSED';
    message := format('The kitchen is closed on %s, so we cannot take table bookings that day.%s',
                      public.tb_day_words(p_date), coalesce(' ' || rtrim(h.note, '.') || '.', ''));
    return;
  end if;
end
$$;

-- Every slot of a day for a party: how many covers are free and, when it cannot be booked, why.
-- The generic plan is forced: the statements are the same for every date, and re-planning them
-- per call cost more than running them (bench/README.md).
-- tb_day_slots_for takes the configuration (tb_config) and the day's hours (tb_day_hours), which
-- the caller has already read.
create or replace function public.tb_day_slots_for(
  p_date date,
  p_party_size integer,
  p_booking_type public.table_booking_type,
  p_now timestamptz,
  p_override boolean,
  cfg jsonb,
  h public.tb_hours,
  p_options jsonb default '{}'::jsonb
) returns table (slot_time time, available_capacity integer, reason text, message text)
language plpgsql stable security definer
set search_path = public, pg_temp
set plan_cache_mode = force_generic_plan as $$
declare
  v_notice integer;
  v_dow integer := extract(dow from p_date)::int;
  v_duration interval := make_interval(mins => (cfg ->> 'duration_minutes')::int);
  v_capacity integer := (cfg ->> 'capacity')::int;
  v_purpose text := coalesce(p_options ->> 'purpose', 'food');
  v_outside boolean := coalesce((p_options ->> 'outside')::boolean, false);
  v_table_minutes integer;
begin
  if not h.kitchen_open then
    return;
  end if;
  select coalesce(bp.min_advance_hours, 0) into v_notice
  from public.booking_policies bp where bp.booking_type = p_booking_type;
  if public.tb_venue_has_tables() then
    -- Seated by tables: the engine's answer for every slot the time rules let through, in one
    -- pass (tb_day_tables for the tables, tb_pacing_load for the kitchen's pacing and the drinks
    -- ceiling), the same answers as a create's tb_seat_verdict slot by slot (tests hold them
    -- together). Outside seating is asked slot by slot. What a slot can still take is the seats
    -- of the tables with nothing on them for the whole of its window.
    select m.guest_minutes + m.turnaround_minutes into v_table_minutes
    from public.tb_booking_minutes(v_purpose, p_party_size, p_date) m;
    return query
    with s as materialized (
      select t.slot_time as at,
             public.tb_start_instant(p_date, t.slot_time, h.opens, h.overnight) as st
      from public.tb_slot_times(h.opens, h.closes, (cfg ->> 'slot_interval_minutes')::int,
                                (cfg ->> 'last_start_margin_minutes')::int) t
    ),
    r as materialized (
      select s.at, s.st, tr.reason as time_reason, tr.message as time_message
      from s cross join lateral public.tb_time_refusal_for(s.st, p_now, p_override, v_notice) tr
    ),
    d as materialized (
      select * from public.tb_day_tables(
        array(select r.st from r where r.time_reason is null), v_table_minutes, p_party_size,
        v_purpose, 'online', coalesce((p_options ->> 'high_chairs')::int, 0),
        coalesce((p_options ->> 'accessible')::boolean, false), p_now)
    ),
    pace as materialized (select * from public.tb_pacing_load(p_date, p_now)),
    v as (
      select r.*, d.free_seats,
             case
               when r.time_reason is not null then null
               when v_outside then (
                 select sv.reason from public.tb_seat_verdict(
                   p_date, r.at, r.st, p_party_size, v_purpose, 'online', true,
                   coalesce((p_options ->> 'accessible')::boolean, false),
                   coalesce((p_options ->> 'high_chairs')::int, 0), null, false, p_now,
                   null) sv)
               when not d.seated then 'no_table'
               when p.slot_time is null then
                 public.tb_pacing_refusal(p_date, r.at, p_party_size, v_purpose, false, p_now)
               when v_purpose = 'food' and p.pacing_enabled
                    and p.food_covers + p_party_size > p.food_ceiling then 'slot_full'
               when v_purpose = 'drinks' and p.drinks_covers + p_party_size > p.drinks_ceiling
                 then 'drinks_full'
             end as seat_reason
      from r
      left join d on d.slot_start = r.st
      left join pace p on p.slot_time = r.at
    )
    select v.at,
           case when v.time_reason is null and v.seat_reason is null
                then coalesce(v.free_seats, 0) else 0 end,
           coalesce(v.time_reason, v.seat_reason),
           coalesce(v.time_message,
                    case when v.seat_reason is not null
                         then public.tb_public_message(public.tb_public_reason(v.seat_reason))
                    end)
    from v
    order by v.st;
    return;
  end if;
  return query
  with s as materialized (
    -- Materialized: tb_start_instant (and its time zone maths) runs once per slot, never per
    -- slot and booking pair.
    select t.at, t.st, t.st + v_duration as se
    from (select t.slot_time as at,
                 public.tb_start_instant(p_date, t.slot_time, h.opens, h.overnight) as st
          from public.tb_slot_times(h.opens, h.closes, (cfg ->> 'slot_interval_minutes')::int,
                                    (cfg ->> 'last_start_margin_minutes')::int) t
          offset 0) t
  ),
  -- The bookings that hold covers, as table_booking_covers_free counts them.
  held as materialized (
    select b.party_size,
           coalesce(b.start_datetime,
                    (b.booking_date + b.booking_time) at time zone 'Europe/London') as bs,
           coalesce(b.end_datetime,
                    (b.booking_date + b.booking_time) at time zone 'Europe/London'
                    + make_interval(mins => coalesce(b.duration_minutes, 120))) as be
    from public.table_bookings b
    where b.booking_date between p_date - 1 and p_date + 1
      and (b.status = 'confirmed'
           or (b.status = 'pending_payment'
               and (b.hold_expires_at is null or b.hold_expires_at > p_now)))
  ),
  -- Only those overlapping the day's slots at all: each slot below is summed over these.
  day_held as materialized (
    select x.party_size, x.bs, x.be
    from held x, (select min(s.st) as first_st, max(s.se) as last_se from s) span
    where x.bs < span.last_se and x.be > span.first_st
  ),
  caps as materialized (
    select ts.slot_time, ts.booking_type, ts.max_covers
    from public.booking_time_slots ts
    where ts.day_of_week = v_dow and ts.is_active
      and (ts.booking_type = p_booking_type or ts.booking_type is null)
  ),
  f as materialized (
    select s.at, s.st,
           coalesce(
             (select c.max_covers from caps c
               where c.slot_time = s.at and c.booking_type = p_booking_type limit 1),
             (select c.max_covers from caps c
               where c.slot_time = s.at and c.booking_type is null limit 1),
             v_capacity)
           - coalesce((select sum(x.party_size) from day_held x where x.bs < s.se and x.be > s.st),
                      0)::integer as free
    from s
  )
  select f.at,
         greatest(f.free, 0),
         coalesce(r.reason, case when f.free < p_party_size then 'FULL' end),
         coalesce(r.message,
                  case when f.free < p_party_size
                       then format('Only %s covers are free at %s.', greatest(f.free, 0),
                                   to_char(f.at, 'HH24:MI')) end)
  from f
  cross join lateral public.tb_time_refusal_for(f.st, p_now, p_override, coalesce(v_notice, 0)) r
  order by f.st;
end
$$;

create or replace function public.tb_span(p_from timestamptz, p_to timestamptz)
returns tstzrange
language sql immutable parallel safe as $$
  select pg_catalog.tstzrange(least(p_from, p_to), greatest(p_from, p_to), '[]')
$$;

create or replace function public.tb_booking_span(
  p_date date, p_time time, p_start timestamptz, p_end timestamptz, p_duration_minutes integer
) returns tstzrange
language sql immutable parallel safe as $$
  select public.tb_span(
    coalesce(p_start, (p_date + p_time) at time zone 'Europe/London'),
    coalesce(p_end, (p_date + p_time) at time zone 'Europe/London'
                    + pg_catalog.make_interval(mins => coalesce(p_duration_minutes, 120))))
$$;

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

-- Whether a booking holds what it was given (its tables, covers, outside space, high chairs) at
-- p_now: the pub's liveness rule (pub-engine-2026.md 7.2). Not when cancelled or a no-show, not
-- once the party has left, and not once an unpaid hold has lapsed (at the expiry instant itself).
-- Completed and reviewed bookings stay live for their window. Status is text so that the pub's
-- wider enum (pending_card_capture, visited_waiting_for_review, review_clicked) reads the same.
create or replace function public.tb_is_live(
  p_status text, p_left_at timestamptz, p_hold_expires_at timestamptz, p_payment_status text,
  p_now timestamptz
) returns boolean
-- No SET clause: plain SQL of pg_catalog's operators, inlined into the queries that ask it of
-- every booking they read.
language sql immutable parallel safe as $$
  select p_status not in ('cancelled', 'no_show')
         and p_left_at is null
         and not (p_status in ('pending_payment', 'pending_card_capture')
                  and p_hold_expires_at is not null
                  and p_hold_expires_at <= p_now
                  and p_payment_status is distinct from 'completed')
$$;

-- Only bookings that can hold covers are in it (the rule's status test is a subset of this).
create index if not exists idx_table_bookings_holding_span on public.table_bookings
  using gist (public.tb_booking_span(booking_date, booking_time, start_datetime, end_datetime,
                                     duration_minutes))
  where status in ('confirmed', 'pending_payment');

-- tb_span and tb_booking_span stay executable by every role: the GiST index on table_bookings
-- evaluates them for every writer, the pub's staff under RLS included (they are pure).

-- Every function of this file: executable by service_role only.
select table_booking_service.service_role_only(array[
  'public.tb_config',
  'public.tb_day_words',
  'public.tb_london_iso',
  'public.tb_service_hours',
  'public.tb_day_hours',
  'public.tb_slot_times',
  'public.tb_start_instant',
  'public.tb_slot_capacity',
  'public.table_booking_covers_free',
  'public.tb_day_refusal',
  'public.tb_time_refusal',
  'public.tb_day_slots',
  'public.tb_check_slot',
  'public.tb_claim_covers',
  'public.tb_time_refusal_for',
  'public.tb_hours_of',
  'public.tb_not_sunday_message',
  'public.tb_day_refusal_for',
  'public.tb_day_slots_for',
  'public.tb_setting_int',
  'public.tb_is_live'
]);
