-- Capacity locks by half hour instead of by day (bench/README.md, step 18).
--
-- A booking's capacity check reads the bookings that overlap its own time, and nothing else; so
-- two claims need to wait for each other only when their times overlap. tb_claim_covers used to
-- lock the booking's service day and the days either side (whose bookings can cross midnight
-- into it), so every booking within two days of another waited for it: on a busy Saturday,
-- every booking of the day one after the other.
--
-- Now a claim locks each half hour (counted from the epoch, so midnight and the clocks changing
-- need no special case) that its time [start, start + duration) touches. Two times that overlap
-- share an instant, so they share that instant's half hour and the second claim waits for the
-- first to commit; times that do not overlap may share at most a boundary half hour. The locks
-- are taken in ascending order, so two claims never wait on each other in a cycle.
--
-- A change of day (p_dates holding the old day and the new) locks only the new time: moving
-- a booking away only frees covers, and a claim that still sees it there counts it, which can
-- refuse a table but never overbook one. p_dates stays in the signature for the callers.
--
-- A booking made by the pub's app may have no start instant or duration: the claim takes the
-- date and time in London and 120 minutes, as the capacity sum does for the other bookings.

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
