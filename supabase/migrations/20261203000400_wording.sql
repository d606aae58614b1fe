-- Issue 18, items 9-12: one rule for the picker and the gate, refunds that are not promised
-- before they are on their way, one message when a confirmation and an update are both due, and
-- what the guest and the staff are told. Every statement can run again on a database that has it.

-- Item 9 -----------------------------------------------------------------------------------------
-- From 20261124001800_create_path.sql: a time is bookable only when it is one of the day's slots
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
  p_cfg jsonb default null
) returns timestamptz
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  cfg jsonb := coalesce(p_cfg, public.tb_config());
  d record;
  h public.tb_hours := public.tb_hours_of(p_date);
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
      detail = format('The kitchen is not serving at %s. On %s food is served from %s to %s, '
                      'and the last table can be booked for %s.',
                      to_char(p_time, 'HH24:MI'), public.tb_day_words(p_date),
                      to_char(h.opens, 'HH24:MI'), to_char(h.closes, 'HH24:MI'),
                      to_char(h.opens + make_interval(mins => v_span - v_margin), 'HH24:MI')),
      hint = '{"reason": "KITCHEN_CLOSED"}';
  end if;
  if not exists (select 1 from public.tb_slot_times(h.opens, h.closes, v_interval, v_margin) s
                  where s.slot_time = p_time) then
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
