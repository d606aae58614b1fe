-- Prototype (benchmark scratch only): every slot of a day in one set-based query; the config
-- read once instead of once per slot.
create or replace function public.tb_day_slots_v2(
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
  v_notice integer;
  v_duration interval := make_interval(mins => (cfg ->> 'duration_minutes')::int);
begin
  select * into h from public.tb_day_hours(p_date);
  if not h.kitchen_open then
    return;
  end if;
  select coalesce(bp.min_advance_hours, 0) into v_notice
  from public.booking_policies bp where bp.booking_type = p_booking_type;
  return query
  with s as materialized (
    select t.slot_time as at,
           public.tb_start_instant(p_date, t.slot_time, h.opens, h.overnight) as st
    from public.tb_slot_times(h.opens, h.closes, (cfg ->> 'slot_interval_minutes')::int,
                              (cfg ->> 'last_start_margin_minutes')::int) t
  ),
  bk as materialized (
    select x.party_size,
           coalesce(x.start_datetime,
                    (x.booking_date + x.booking_time) at time zone 'Europe/London') as bs,
           coalesce(x.end_datetime,
                    (x.booking_date + x.booking_time) at time zone 'Europe/London'
                    + make_interval(mins => coalesce(x.duration_minutes, 120))) as be
    from public.table_bookings x
    where x.booking_date between p_date - 1 and p_date + 1
      and (x.status = 'confirmed'
           or (x.status = 'pending_payment'
               and (x.hold_expires_at is null or x.hold_expires_at > p_now)))
  ),
  f as (
    select s.at, s.st,
           coalesce(
             (select ts.max_covers from public.booking_time_slots ts
               where ts.day_of_week = extract(dow from p_date)::int and ts.slot_time = s.at
                 and ts.is_active and ts.booking_type = p_booking_type limit 1),
             (select ts.max_covers from public.booking_time_slots ts
               where ts.day_of_week = extract(dow from p_date)::int and ts.slot_time = s.at
                 and ts.is_active and ts.booking_type is null limit 1),
             (cfg ->> 'capacity')::int)
           - coalesce((select sum(bk.party_size) from bk
                        where bk.bs < s.st + v_duration and bk.be > s.st), 0)::integer as free
    from s
  )
  select f.at, greatest(f.free, 0),
         case when f.st <= p_now then 'IN_PAST'
              when not p_override and f.st < p_now + make_interval(hours => v_notice)
                then 'TOO_SOON'
              when f.free < p_party_size then 'FULL' end,
         case when f.st <= p_now then 'That time has already passed.'
              when not p_override and f.st < p_now + make_interval(hours => v_notice)
                then format('Bookings must be made at least %s hours in advance.', v_notice)
              when f.free < p_party_size
                then format('Only %s covers are free at %s.', greatest(f.free, 0),
                            to_char(f.at, 'HH24:MI')) end
  from f order by f.st;
end
$$;
