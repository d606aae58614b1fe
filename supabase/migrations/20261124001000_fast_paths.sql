-- Fast paths for the two busiest requests, measured with bench/run.py (bench/README.md).
--
-- 1. A day's slots in one set-based query (tb_day_slots): the configuration and the day's
--    bookings are read once, not once per slot. The rules are those of the booking gate
--    (table_booking_covers_free, tb_time_refusal); tests/test_slots_agree.py checks that the
--    picker and the gate agree on random days.
-- 2. One round trip for a keyed request: table_booking_availability_for_key and
--    table_booking_create_for_key check the API key, count its rate limits and do the work in
--    one call. The rate counters are written last, so the hot row of the website's key is
--    locked only for the end of the transaction, and their commit does not wait for the WAL
--    flush when nothing else was written (a count lost in a crash is harmless; a booking is
--    never committed that way, see tb_count_key_use).

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
    'slot_interval_minutes',
      coalesce((v #>> '{table_booking_slot_interval_minutes}')::int, 30),
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

-- The instant a booking starts (the rule of 20261124000400), as PL/pgSQL: a single RETURN is
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

create or replace function public.tb_hours_of(p_date date) returns public.tb_hours
language sql stable security definer set search_path = public, pg_temp as $$
  select row(h.pub_open, h.kitchen_open, h.opens, h.closes, h.overnight, h.source,
             h.note)::public.tb_hours
  from public.tb_day_hours(p_date) h
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
  h public.tb_hours
) returns table (slot_time time, available_capacity integer, reason text, message text)
language plpgsql stable security definer
set search_path = public, pg_temp
set plan_cache_mode = force_generic_plan as $$
declare
  v_notice integer;
  v_dow integer := extract(dow from p_date)::int;
  v_duration interval := make_interval(mins => (cfg ->> 'duration_minutes')::int);
  v_capacity integer := (cfg ->> 'capacity')::int;
begin
  if not h.kitchen_open then
    return;
  end if;
  select coalesce(bp.min_advance_hours, 0) into v_notice
  from public.booking_policies bp where bp.booking_type = p_booking_type;
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

create or replace function public.tb_day_slots(
  p_date date,
  p_party_size integer,
  p_booking_type public.table_booking_type,
  p_now timestamptz,
  p_override boolean default false
) returns table (slot_time time, available_capacity integer, reason text, message text)
language sql stable security definer set search_path = public, pg_temp as $$
  select * from public.tb_day_slots_for(p_date, p_party_size, p_booking_type, p_now, p_override,
                                        public.tb_config(), public.tb_hours_of(p_date))
$$;

revoke execute on function public.tb_time_refusal_for(timestamptz, timestamptz, boolean, integer)
  from public, anon, authenticated;
grant execute on function public.tb_time_refusal_for(timestamptz, timestamptz, boolean, integer)
  to service_role;

-- Slots for one date (GET /api/table-bookings/availability), as in 20261124000500 but with the
-- configuration and the day's hours read once.
-- Built as json, not jsonb: the service sends it on as text, and json is text already.
create or replace function public.tb_availability_json(
  p_date date,
  p_party_size integer,
  p_booking_type public.table_booking_type,
  p_now timestamptz
) returns json
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  cfg jsonb := public.tb_config();
  h public.tb_hours := public.tb_hours_of(p_date);
  d record;
  v_slots json;
  v_any boolean;
  v_all_full boolean;
  v_message text;
  v_alternatives jsonb := '[]'::jsonb;
  v_day date;
  a record;
begin
  select * into d
  from public.tb_day_refusal_for(p_booking_type, p_date, p_party_size, p_now, false, cfg, h);

  select coalesce(json_agg(json_build_object(
           'time', to_char(x.slot_time, 'HH24:MI'),
           'available', coalesce(d.reason, x.reason) is null,
           'available_capacity', x.available_capacity,
           'requires_prepayment', p_booking_type = 'sunday_lunch',
           'reason', coalesce(d.reason, x.reason)) order by x.n), '[]'::json),
         coalesce(bool_or(coalesce(d.reason, x.reason) is null), false),
         coalesce(bool_and(x.reason = 'FULL'), false)
    into v_slots, v_any, v_all_full
  from public.tb_day_slots_for(p_date, p_party_size, p_booking_type, p_now, false, cfg, h)
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
        continue when (public.tb_day_refusal(p_booking_type, v_day, p_party_size, p_now,
                                             false)).reason is not null;
        for a in
          select slot_time from public.tb_day_slots(v_day, p_party_size, p_booking_type, p_now)
          where reason is null
        loop
          v_alternatives := v_alternatives || jsonb_build_object(
            'date', to_char(v_day, 'YYYY-MM-DD'), 'time', to_char(a.slot_time, 'HH24:MI'));
          exit search when jsonb_array_length(v_alternatives) >= 3;
        end loop;
      end loop;
    end if;
  end if;

  return json_build_object(
    'date', to_char(p_date, 'YYYY-MM-DD'),
    'booking_type', p_booking_type,
    'party_size', p_party_size,
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

-- The same as jsonb, for callers that want to look inside.
create or replace function public.table_booking_availability(
  p_date date,
  p_party_size integer,
  p_booking_type public.table_booking_type,
  p_now timestamptz
) returns jsonb
language sql stable security definer set search_path = public, pg_temp as $$
  select public.tb_availability_json(p_date, p_party_size, p_booking_type, p_now)::jsonb
$$;

-- The booking gate's slot check (as in 20261124000600), with the configuration and the day's
-- hours read once.
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

-- API keys: the lookup and the counting, apart, so that a keyed request can do its work
-- between them in one call. api_key_authenticate is the two together, as before.
create or replace function public.tb_key_lookup(p_key_hash text, p_now timestamptz)
returns public.api_keys
language sql stable security definer set search_path = public, pg_temp as $$
  select * from public.api_keys
  where key_hash = p_key_hash and is_active and (expires_at is null or expires_at > p_now)
$$;

-- A rate counter spread over 8 rows, for the one bucket every request of a key updates (its
-- hourly count). One row would make every booking of the website's key wait for the previous
-- one's commit, WAL flush included; a shard is locked by one transaction in eight. The count is
-- the sum of the shards this statement sees, so requests committing at the very same moment on
-- other shards may go unseen: under a burst a key can pass its hourly limit by at most the
-- number of its requests in flight.
create or replace function public.tb_rate_hit_sharded(
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
  v_names text[] := array[p_bucket, p_bucket || '#1', p_bucket || '#2', p_bucket || '#3',
                          p_bucket || '#4', p_bucket || '#5', p_bucket || '#6', p_bucket || '#7'];
  v_name text := v_names[1 + floor(random() * 8)::int];
  v_hits integer;
begin
  -- One statement: this shard's new count, plus the other shards as this statement sees them.
  with mine as (
    insert into public.api_rate_counters as c (bucket, window_start, hits)
    values (v_name, v_start, 1)
    on conflict (bucket, window_start) do update set hits = c.hits + 1
    returning c.hits
  )
  select (select hits from mine)
         + coalesce((select sum(c.hits) from public.api_rate_counters c
                     where c.window_start = v_start and c.bucket = any (v_names)
                       and c.bucket <> v_name), 0)
    into v_hits;
  allowed := v_hits <= p_limit;
  hit_limit := p_limit;
  remaining := greatest(p_limit - v_hits, 0);
  reset_at := v_start + make_interval(secs => p_window_seconds);
end
$$;

-- Count one request of key k against its hourly limit and the extra limits p_limits
-- ([{bucket, limit, window_seconds}], e.g. availability per client address), and say where it
-- stands: {id, name, permissions, rate_limit: {limit, remaining, reset_at}, limited: null |
-- {scope, reset_at}}. Every limit is counted until one is used up.
create or replace function public.tb_key_count(k public.api_keys, p_now timestamptz, p_limits jsonb)
returns jsonb
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  r record;
  x record;
  lim jsonb;
  v_limited jsonb;
begin
  -- last_used_at is for people, not accounting: written at most once a minute per key.
  if k.last_used_at is null or k.last_used_at < p_now - interval '1 minute' then
    update public.api_keys set last_used_at = p_now where id = k.id;
  end if;
  select * into r from public.tb_rate_hit_sharded('api_key:' || k.id,
                                                  coalesce(k.rate_limit, 1000), 3600, p_now);
  if not r.allowed then
    v_limited := jsonb_build_object('scope', 'api_key', 'reset_at', r.reset_at);
  end if;
  for i in 0 .. coalesce(jsonb_array_length(p_limits), 0) - 1 loop
    exit when v_limited is not null;
    lim := p_limits -> i;
    select * into x from public.tb_rate_hit(lim ->> 'bucket', (lim ->> 'limit')::int,
                                            (lim ->> 'window_seconds')::int, p_now);
    if not x.allowed then
      v_limited := jsonb_build_object('scope', lim ->> 'bucket', 'reset_at', x.reset_at);
    end if;
  end loop;
  return jsonb_build_object(
    'id', k.id, 'name', k.name, 'permissions', coalesce(k.permissions, '[]'::jsonb),
    'rate_limit', jsonb_build_object('limit', r.hit_limit, 'remaining', r.remaining,
                                     'reset_at', r.reset_at),
    'limited', v_limited);
end
$$;

-- The key behind a presented hash, counted against its limits, in one round trip; null when the
-- key is unknown, inactive or expired. It writes only counters, so its commit does not wait for
-- the WAL flush: after a crash a few counts may be lost, which is harmless.
create or replace function public.api_key_authenticate(
  p_key_hash text,
  p_now timestamptz default now(),
  p_limits jsonb default '[]'::jsonb
) returns jsonb
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  k public.api_keys;
begin
  k := public.tb_key_lookup(p_key_hash, p_now);
  if k.id is null then
    return null;
  end if;
  perform set_config('synchronous_commit', 'off', true);
  return public.tb_key_count(k, p_now, p_limits);
end
$$;

-- GET /api/table-bookings/availability in one round trip. The answer is two JSON texts on two
-- lines: auth, what api_key_authenticate returns (null: no such key, and no data), then data,
-- table_booking_availability's (null when there is no key or a limit refused the request). The
-- service parses the first line and sends the second on as it is, inside its envelope. The
-- scope is judged by the service from auth.permissions. The availability is computed before the
-- counters are written, so the key's counter rows are locked only for the end of the
-- transaction.
-- (Its answer changed type while this migration was written: jsonb, json, text.)
drop function if exists public.table_booking_availability_for_key(
  text, timestamptz, jsonb, date, integer, public.table_booking_type);
create or replace function public.table_booking_availability_for_key(
  p_key_hash text,
  p_now timestamptz,
  p_limits jsonb,
  p_date date,
  p_party_size integer,
  p_booking_type public.table_booking_type
) returns text
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  k public.api_keys;
  v_data json;
  v_auth jsonb;
begin
  k := public.tb_key_lookup(p_key_hash, p_now);
  if k.id is null then
    return 'null' || chr(10) || 'null';
  end if;
  v_data := public.tb_availability_json(p_date, p_party_size, p_booking_type, p_now);
  perform set_config('synchronous_commit', 'off', true);
  v_auth := public.tb_key_count(k, p_now, p_limits);
  -- jsonb's text has no raw line break (JSON strings escape theirs), so the first line is auth.
  return v_auth::text || chr(10)
         || case when jsonb_typeof(v_auth -> 'limited') = 'null' then v_data::text
                 else 'null' end;
end
$$;

revoke execute on function public.tb_key_lookup(text, timestamptz) from public, anon, authenticated;
revoke execute on function public.tb_rate_hit_sharded(text, integer, integer, timestamptz)
  from public, anon, authenticated;
revoke execute on function public.tb_key_count(public.api_keys, timestamptz, jsonb)
  from public, anon, authenticated;
revoke execute on function public.table_booking_availability_for_key(
  text, timestamptz, jsonb, date, integer, public.table_booking_type)
  from public, anon, authenticated;
grant execute on function public.table_booking_availability_for_key(
  text, timestamptz, jsonb, date, integer, public.table_booking_type) to service_role;
revoke execute on function public.tb_hours_of(date) from public, anon, authenticated;
revoke execute on function public.tb_day_refusal_for(
  public.table_booking_type, date, integer, timestamptz, boolean, jsonb, public.tb_hours)
  from public, anon, authenticated;
revoke execute on function public.tb_day_slots_for(
  date, integer, public.table_booking_type, timestamptz, boolean, jsonb, public.tb_hours)
  from public, anon, authenticated;

-- Whether API key permissions allow a scope: '*' allows everything, 'manage:<resource>' every
-- scope on that resource. The same rule as app.services.api_keys.scope_allows (a test holds the
-- two to the same table of cases).
create or replace function public.tb_scope_allows(p_permissions jsonb, p_scope text)
returns boolean
language sql immutable set search_path = pg_catalog, pg_temp as $$
  select coalesce(p_permissions, '[]'::jsonb) ? '*'
         or coalesce(p_permissions, '[]'::jsonb) ? p_scope
         or coalesce(p_permissions, '[]'::jsonb) ? ('manage:' || split_part(p_scope, ':', 2))
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

revoke execute on function public.tb_scope_allows(jsonb, text) from public, anon, authenticated;
revoke execute on function public.table_booking_create_for_key(text, timestamptz, text, jsonb, jsonb)
  from public, anon, authenticated;
grant execute on function public.table_booking_create_for_key(text, timestamptz, text, jsonb, jsonb)
  to service_role;
revoke execute on function public.tb_availability_json(
  date, integer, public.table_booking_type, timestamptz) from public, anon, authenticated;
revoke execute on function public.tb_not_sunday_message(date) from public, anon, authenticated;
