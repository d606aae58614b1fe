-- The booking rules, once: configuration, opening hours, the slot grid, the one capacity rule,
-- and the booking policy. Availability and the booking transaction both call these functions,
-- so the picker and the gate can never disagree.
--
-- Time: booking_date/booking_time are Europe/London wall clock; a booking's instants
-- (start_datetime, end_datetime) are timestamptz. "Now" is always passed in (p_now) so that the
-- service, not the database clock, decides what time it is (and tests can move it).

-- Configuration ------------------------------------------------------------------------------
-- Every tunable lives in system_settings (as {"value": X}, the app's convention since 2026) and
-- has a default here, so an empty table still gives a working service.
create or replace function public.tb_config() returns jsonb
language sql stable security definer set search_path = public, pg_temp as $$
  with s as (
    select key, case when jsonb_typeof(value) = 'object' and value ? 'value'
                     then value -> 'value' else value end as v
    from public.system_settings
    where key in ('restaurant_capacity', 'table_booking_slot_interval_minutes',
                  'table_booking_last_start_margin_minutes', 'table_booking_duration_minutes',
                  'sunday_lunch_deposit_per_guest', 'sunday_lunch_payment_hold_minutes',
                  'sunday_lunch_cutoff_time', 'contact_phone',
                  'table_booking_alternative_days')
  )
  select jsonb_build_object(
    'capacity', coalesce(
      (select (v ->> 'max_capacity')::int from s where key = 'restaurant_capacity'
         and jsonb_typeof(v) = 'object'),
      (select (v #>> '{}')::int from s where key = 'restaurant_capacity'
         and jsonb_typeof(v) = 'number'),
      50),
    'slot_interval_minutes', coalesce(
      (select (v #>> '{}')::int from s where key = 'table_booking_slot_interval_minutes'), 30),
    'last_start_margin_minutes', coalesce(
      (select (v #>> '{}')::int from s where key = 'table_booking_last_start_margin_minutes'), 30),
    'duration_minutes', coalesce(
      (select (v #>> '{}')::int from s where key = 'table_booking_duration_minutes'), 120),
    'deposit_per_guest', coalesce(
      (select (v #>> '{}')::numeric(10, 2) from s where key = 'sunday_lunch_deposit_per_guest'),
      5.00),
    'payment_hold_minutes', coalesce(
      (select (v #>> '{}')::int from s where key = 'sunday_lunch_payment_hold_minutes'), 30),
    'sunday_lunch_cutoff_time', coalesce(
      (select (v #>> '{}')::time from s where key = 'sunday_lunch_cutoff_time'), '13:00'::time),
    'contact_phone', coalesce(
      (select v #>> '{}' from s where key = 'contact_phone'), '01753 682707'),
    'alternative_days', coalesce(
      (select (v #>> '{}')::int from s where key = 'table_booking_alternative_days'), 14)
  )
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
  v_kitchen_closed := coalesce(s.is_kitchen_closed, b.is_kitchen_closed, false);
  opens := coalesce(s.kitchen_opens, b.kitchen_opens);
  closes := coalesce(s.kitchen_closes, b.kitchen_closes);
  kitchen_open := pub_open and not v_kitchen_closed and opens is not null and closes is not null;
  if not kitchen_open then
    opens := null;
    closes := null;
  end if;
  overnight := kitchen_open and closes <= opens;
end
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

-- The instant a booking starts: its service date plus wall-clock time in London, on the next
-- calendar day when the time falls after midnight in an overnight kitchen window.
create or replace function public.tb_start_instant(
  p_date date, p_time time, p_opens time, p_overnight boolean
) returns timestamptz
language sql immutable set search_path = pg_catalog, pg_temp as $$
  select ((p_date + case when p_overnight and p_time < p_opens then 1 else 0 end) + p_time)
         at time zone 'Europe/London'
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

-- THE capacity rule: covers free for a booking starting at p_start for p_duration_minutes.
-- Every confirmed booking, and every pending_payment booking whose hold has not expired, holds
-- its covers for its whole duration; bookings of both types share the room.
create or replace function public.table_booking_covers_free(
  p_date date,
  p_time time,
  p_start timestamptz,
  p_duration_minutes integer,
  p_booking_type public.table_booking_type,
  p_now timestamptz,
  p_exclude_booking_id uuid default null
) returns integer
language sql stable security definer set search_path = public, pg_temp as $$
  select public.tb_slot_capacity(p_date, p_time, p_booking_type,
                                 (public.tb_config() ->> 'capacity')::int)
         - coalesce((
             select sum(b.party_size)
             from public.table_bookings b
             -- A booking near midnight may overlap the neighbouring service day.
             where b.booking_date between p_date - 1 and p_date + 1
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

-- The booking policy ---------------------------------------------------------------------------
-- Why a whole day cannot be booked for this party and type, or nulls when it can. Staff may
-- override the Sunday lunch cut-off (p_override); nothing else here.
create or replace function public.tb_day_refusal(
  p_booking_type public.table_booking_type,
  p_date date,
  p_party_size integer,
  p_now timestamptz,
  p_override boolean,
  out reason text,
  out message text
)
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  cfg jsonb := public.tb_config();
  pol public.booking_policies;
  h record;
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
    message := format('Sunday lunch is served on Sundays only; %s is a %s.',
                      public.tb_day_words(p_date), trim(to_char(p_date, 'Day')));
    return;
  end if;
  select * into h from public.tb_day_hours(p_date);
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

-- Why one start time cannot be booked (the day itself being bookable), or nulls when it can.
-- Staff may override the minimum notice (p_override), never a time already passed.
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
  if p_start <= p_now then
    reason := 'IN_PAST';
    message := 'That time has already passed.';
    return;
  end if;
  select coalesce(min_advance_hours, 0) into v_notice
  from public.booking_policies where booking_type = p_booking_type;
  if not p_override and p_start < p_now + make_interval(hours => coalesce(v_notice, 0)) then
    reason := 'TOO_SOON';
    message := format('Bookings must be made at least %s hours in advance.', v_notice);
  end if;
end
$$;

-- Every slot of a day for a party: how many covers are free and, when it cannot be booked, why.
create or replace function public.tb_day_slots(
  p_date date,
  p_party_size integer,
  p_booking_type public.table_booking_type,
  p_now timestamptz,
  p_override boolean default false
) returns table (slot_time time, available_capacity integer, reason text, message text)
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  cfg jsonb := public.tb_config();
  h record;
  s record;
  v_start timestamptz;
  v_free integer;
  t record;
begin
  select * into h from public.tb_day_hours(p_date);
  if not h.kitchen_open then
    return;
  end if;
  for s in
    select * from public.tb_slot_times(h.opens, h.closes,
                                       (cfg ->> 'slot_interval_minutes')::int,
                                       (cfg ->> 'last_start_margin_minutes')::int)
  loop
    v_start := public.tb_start_instant(p_date, s.slot_time, h.opens, h.overnight);
    v_free := public.table_booking_covers_free(p_date, s.slot_time, v_start,
                                               (cfg ->> 'duration_minutes')::int,
                                               p_booking_type, p_now);
    select * into t from public.tb_time_refusal(p_booking_type, v_start, p_now, p_override);
    slot_time := s.slot_time;
    available_capacity := greatest(v_free, 0);
    reason := t.reason;
    message := t.message;
    if reason is null and v_free < p_party_size then
      reason := 'FULL';
      message := format('Only %s covers are free at %s.', greatest(v_free, 0),
                        to_char(s.slot_time, 'HH24:MI'));
    end if;
    return next;
  end loop;
end
$$;

revoke execute on function public.tb_config() from public, anon, authenticated;
revoke execute on function public.tb_day_words(date) from public, anon, authenticated;
revoke execute on function public.tb_london_iso(timestamptz) from public, anon, authenticated;
revoke execute on function public.tb_day_hours(date) from public, anon, authenticated;
revoke execute on function public.tb_slot_times(time, time, integer, integer)
  from public, anon, authenticated;
revoke execute on function public.tb_start_instant(date, time, time, boolean)
  from public, anon, authenticated;
revoke execute on function public.tb_slot_capacity(date, time, public.table_booking_type, integer)
  from public, anon, authenticated;
revoke execute on function public.table_booking_covers_free(
  date, time, timestamptz, integer, public.table_booking_type, timestamptz, uuid)
  from public, anon, authenticated;
revoke execute on function public.tb_day_refusal(
  public.table_booking_type, date, integer, timestamptz, boolean) from public, anon, authenticated;
revoke execute on function public.tb_time_refusal(
  public.table_booking_type, timestamptz, timestamptz, boolean) from public, anon, authenticated;
revoke execute on function public.tb_day_slots(
  date, integer, public.table_booking_type, timestamptz, boolean) from public, anon, authenticated;
grant execute on function public.tb_day_hours(date) to service_role;
grant execute on function public.tb_slot_times(time, time, integer, integer) to service_role;
grant execute on function public.table_booking_covers_free(
  date, time, timestamptz, integer, public.table_booking_type, timestamptz, uuid) to service_role;
grant execute on function public.tb_day_slots(
  date, integer, public.table_booking_type, timestamptz, boolean) to service_role;
