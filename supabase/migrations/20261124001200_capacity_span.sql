-- The capacity rule reads only the bookings that overlap the new one.
--
-- table_booking_covers_free (20261124000400) summed every booking of three service days through
-- idx_bookings_date_status and tested each one's time against the new booking's: the cost of a
-- create grew with the day's bookings, overlapping or not (bench/README.md: a date of the
-- benchmark's create phase ends a run with hundreds). The rule itself is unchanged; it is now
-- found through a GiST index on each holding booking's time span, so a create reads the bookings
-- that can overlap it and no others.
--
-- The span is [least(start, end), greatest(start, end)], closed, with start and end as the rule
-- computes them (start_datetime, else the date and time in London; end_datetime, else start +
-- duration_minutes, else + 120). Closed and ordered, it overlaps the new booking's closed span
-- whenever the rule's "starts before the new one ends and ends after it starts" holds, also for
-- a legacy row whose end is before its start; the rule's own conditions then decide, exactly as
-- before. tb_span and tb_booking_span are immutable SQL without SET, so they are inlined and
-- the index expression and the query's are the same expression.

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

-- Only bookings that can hold covers are in it (the rule's status test is a subset of this).
create index if not exists idx_table_bookings_holding_span on public.table_bookings
  using gist (public.tb_booking_span(booking_date, booking_time, start_datetime, end_datetime,
                                     duration_minutes))
  where status in ('confirmed', 'pending_payment');

-- From 20261124000400_booking_rules.sql: the span test added, and the three-day window written
-- as a difference of dates so the planner finds the bookings through the span index, not by
-- reading all three days through the date index.
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

-- tb_span and tb_booking_span keep the default EXECUTE for everyone: they compute a range from
-- their arguments and read nothing, and the index runs them as whoever writes table_bookings
-- (the pub's app as well as this service).
