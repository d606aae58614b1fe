-- Kitchen pacing and the drinks arrivals ceiling (pub-engine-2026.md 3.1 to 3.4), as the pub's
-- 2026 engine counts them, so that a booking we take and a booking the pub's own RPC takes meet
-- the same limits on the same database.
--
-- The window is centred on the requested time and half-open: a live booking of the same purpose
-- on the same booking_date counts when its booking_time t (whole minutes, seconds ignored)
-- satisfies  requested - W/2 <= t < requested + W/2  (W = kitchen_pacing_window_minutes; an odd W
-- gives half-minute bounds, as in the pub's). Nothing wraps past midnight. Covers are
-- coalesce(committed_party_size, party_size) (7.5); liveness is tb_is_live (7.2), at p_now.
--
-- Settings, with the pub's code defaults (the seeded values are the same, bar pacing being off):
--   kitchen_pacing_enabled (false), kitchen_pacing_window_minutes (30),
--   kitchen_pace_covers_regular (25) / _sunday (20), kitchen_walk_in_reserve_regular (6) /
--   _sunday (6), drinks_arrivals_ceiling (40). "Sunday" is the weekday of booking_date.
-- Per date, special_hours.kitchen_pace_covers and .kitchen_walk_in_reserve replace the pace and
-- the reserve, each on its own, when set. On a fresh database the stand-in special_hours already
-- has both columns (20261124000100_pub_stand_ins.sql adds them, the pub's types), so this file
-- adds nothing to it.
--
-- Serialising concurrent creates is the caller's: these functions only count.

set local check_function_bodies = off;

-- A minute of the day, as the window counts it (seconds ignored).
-- (No SET clause, here and in tb_in_pacing_window: plain SQL of pg_catalog's operators, so that
-- PostgreSQL inlines them into the queries that call them per row.)
create or replace function public.tb_minute_of_day(p_time time) returns integer
language sql immutable parallel safe as $$
  select (extract(hour from p_time)::integer * 60 + extract(minute from p_time)::integer)
$$;

-- Whether a booking at minute p_minute falls in the window of W minutes centred on p_centre:
-- p_centre - W/2 <= p_minute < p_centre + W/2, in integers (both sides doubled).
create or replace function public.tb_in_pacing_window(p_minute integer, p_centre integer,
                                                      p_window integer) returns boolean
language sql immutable parallel safe as $$
  select 2 * (p_minute - p_centre) >= -p_window and 2 * (p_minute - p_centre) < p_window
$$;

-- The limits in force on one date: whether kitchen pacing is on, the window, the food ceiling
-- max(0, pace - reserve) after the date's special_hours overrides, and the drinks ceiling.
create or replace function public.tb_pacing_limits(
  p_date date,
  out pacing_enabled boolean,
  out window_minutes integer,
  out food_ceiling integer,
  out drinks_ceiling integer
)
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  v_sunday boolean := extract(dow from p_date) = 0;
  v_pace integer;
  v_reserve integer;
  v_day_pace integer;
  v_day_reserve integer;
begin
  pacing_enabled := public.get_setting_bool('kitchen_pacing_enabled', false);
  window_minutes := public.get_setting_int('kitchen_pacing_window_minutes', 30);
  drinks_ceiling := public.get_setting_int('drinks_arrivals_ceiling', 40);
  if v_sunday then
    v_pace := public.get_setting_int('kitchen_pace_covers_sunday', 20);
    v_reserve := public.get_setting_int('kitchen_walk_in_reserve_sunday', 6);
  else
    v_pace := public.get_setting_int('kitchen_pace_covers_regular', 25);
    v_reserve := public.get_setting_int('kitchen_walk_in_reserve_regular', 6);
  end if;
  select sh.kitchen_pace_covers, sh.kitchen_walk_in_reserve into v_day_pace, v_day_reserve
  from public.special_hours sh where sh.date = p_date;
  food_ceiling := greatest(0, coalesce(v_day_pace, v_pace) - coalesce(v_day_reserve, v_reserve));
end
$$;

-- Why pacing refuses a booking of p_party at p_time on p_date for p_purpose: 'slot_full' (food,
-- kitchen pacing on, counted + party > food ceiling), 'drinks_full' (drinks, whether or not
-- kitchen pacing is on, counted + party > drinks_arrivals_ceiling), or null. p_purpose is
-- lower-cased and trimmed; null and 'christmas' are food (the pub stores Christmas as food); any
-- other purpose is not paced (null). p_bypass skips both checks (the caller decides who may:
-- 3.3). p_exclude_booking, a booking being changed, does not count against itself.
create or replace function public.tb_pacing_refusal(
  p_date date,
  p_time time,
  p_party integer,
  p_purpose text,
  p_bypass boolean,
  p_now timestamptz,
  p_exclude_booking uuid default null
) returns text
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  v_purpose text := lower(btrim(coalesce(p_purpose, 'food')));
  lim record;
  v_covers integer;
begin
  if coalesce(p_bypass, false) or p_date is null or p_time is null then
    return null;
  end if;
  if v_purpose = 'christmas' then
    v_purpose := 'food';
  end if;
  if v_purpose not in ('food', 'drinks') then
    return null;
  end if;
  select * into lim from public.tb_pacing_limits(p_date);
  if v_purpose = 'food' and not lim.pacing_enabled then
    return null;
  end if;
  select coalesce(sum(coalesce(b.committed_party_size, b.party_size)), 0)::integer into v_covers
  from public.table_bookings b
  where b.booking_date = p_date
    and coalesce(b.booking_purpose, 'food') = v_purpose
    and (p_exclude_booking is null or b.id <> p_exclude_booking)
    and public.tb_in_pacing_window(public.tb_minute_of_day(b.booking_time),
                                   public.tb_minute_of_day(p_time), lim.window_minutes)
    and public.tb_is_live(b.status::text, b.left_at, b.hold_expires_at, b.payment_status::text,
                          p_now);
  if v_purpose = 'food' and v_covers + coalesce(p_party, 0) > lim.food_ceiling then
    return 'slot_full';
  end if;
  if v_purpose = 'drinks' and v_covers + coalesce(p_party, 0) > lim.drinks_ceiling then
    return 'drinks_full';
  end if;
  return null;
end
$$;

-- A day's load, for a load grid: for every 15-minute slot of p_date (00:00 to 23:45; the caller
-- keeps those inside its hours) the live food and drinks covers counted in the window centred on
-- the slot, exactly as tb_pacing_refusal counts them, and the limits of the date. A party of n can
-- be paced in at a slot when food_covers + n <= food_ceiling (or pacing is off), drinks likewise
-- against drinks_ceiling. One query: the day's bookings are read once.
create or replace function public.tb_pacing_load(p_date date, p_now timestamptz)
returns table (
  slot_time time,
  food_covers integer,
  drinks_covers integer,
  food_ceiling integer,
  drinks_ceiling integer,
  pacing_enabled boolean,
  window_minutes integer
)
language sql stable security definer set search_path = public, pg_temp as $$
  with lim as materialized (
    select * from public.tb_pacing_limits(p_date)
  ),
  live as materialized (
    select public.tb_minute_of_day(b.booking_time) as minute,
           coalesce(b.booking_purpose, 'food') as purpose,
           coalesce(b.committed_party_size, b.party_size) as covers
    from public.table_bookings b
    where b.booking_date = p_date
      and coalesce(b.booking_purpose, 'food') in ('food', 'drinks')
      and public.tb_is_live(b.status::text, b.left_at, b.hold_expires_at,
                            b.payment_status::text, p_now)
  )
  select make_time(s.minute / 60, s.minute % 60, 0),
         coalesce(sum(l.covers) filter (where l.purpose = 'food'), 0)::integer,
         coalesce(sum(l.covers) filter (where l.purpose = 'drinks'), 0)::integer,
         lim.food_ceiling, lim.drinks_ceiling, lim.pacing_enabled, lim.window_minutes
  from lim
  cross join (select g * 15 as minute from generate_series(0, 95) g) s
  left join live l on public.tb_in_pacing_window(l.minute, s.minute, lim.window_minutes)
  group by s.minute, lim.food_ceiling, lim.drinks_ceiling, lim.pacing_enabled, lim.window_minutes
  order by s.minute
$$;

-- Every function of this file: executable by service_role only.
select table_booking_service.service_role_only(array[
  'public.tb_minute_of_day',
  'public.tb_in_pacing_window',
  'public.tb_pacing_limits',
  'public.tb_pacing_refusal',
  'public.tb_pacing_load'
]);
