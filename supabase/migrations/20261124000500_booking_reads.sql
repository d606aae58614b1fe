-- What guests read before booking: availability for a date, and the Sunday lunch menu.

-- Slots for one date, the data of GET /api/table-bookings/availability (API.md).
create or replace function public.table_booking_availability(
  p_date date,
  p_party_size integer,
  p_booking_type public.table_booking_type,
  p_now timestamptz
) returns jsonb
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  cfg jsonb := public.tb_config();
  h record;
  d record;
  v_slots jsonb;
  v_any boolean;
  v_all_full boolean;
  v_message text;
  v_alternatives jsonb := '[]'::jsonb;
  v_day date;
  a record;
begin
  select * into h from public.tb_day_hours(p_date);
  select * into d from public.tb_day_refusal(p_booking_type, p_date, p_party_size, p_now, false);

  select coalesce(jsonb_agg(jsonb_build_object(
           'time', to_char(x.slot_time, 'HH24:MI'),
           'available', coalesce(d.reason, x.reason) is null,
           'available_capacity', x.available_capacity,
           'requires_prepayment', p_booking_type = 'sunday_lunch',
           'reason', coalesce(d.reason, x.reason)) order by x.n), '[]'::jsonb),
         coalesce(bool_or(coalesce(d.reason, x.reason) is null), false),
         coalesce(bool_and(x.reason = 'FULL'), false)
    into v_slots, v_any, v_all_full
  from public.tb_day_slots(p_date, p_party_size, p_booking_type, p_now)
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

  return jsonb_build_object(
    'date', to_char(p_date, 'YYYY-MM-DD'),
    'booking_type', p_booking_type,
    'party_size', p_party_size,
    'available', v_any,
    'kitchen_hours', case when h.kitchen_open then jsonb_build_object(
                       'opens', to_char(h.opens, 'HH24:MI'),
                       'closes', to_char(h.closes, 'HH24:MI'),
                       'source', h.source) end,
    'time_slots', v_slots,
    'message', v_message,
    'alternatives', v_alternatives);
end
$$;

-- The Sunday lunch menu for a date, the data of GET /api/table-bookings/menu/sunday-lunch.
create or replace function public.sunday_lunch_menu(p_date date, p_now timestamptz)
returns jsonb
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  cfg jsonb := public.tb_config();
  v_cutoff timestamptz;
  v_items jsonb;
begin
  if extract(dow from p_date) <> 0 then
    raise exception using errcode = 'P0001', message = 'POLICY_VIOLATION',
      detail = format('Sunday lunch is served on Sundays only; %s is a %s.',
                      public.tb_day_words(p_date), trim(to_char(p_date, 'Day'))),
      hint = '{"reason": "NOT_SUNDAY"}';
  end if;
  v_cutoff := ((p_date - 1) + (cfg ->> 'sunday_lunch_cutoff_time')::time)
              at time zone 'Europe/London';
  select coalesce(jsonb_agg(jsonb_build_object(
           'id', m.id,
           'name', m.name,
           'description', m.description,
           'category', m.category,
           'price', to_char(m.price, 'FM999990.00'),
           'included', m.category = 'side' and m.price = 0,
           'allergens', coalesce(to_jsonb(m.allergens), '[]'::jsonb),
           'dietary_info', coalesce(to_jsonb(m.dietary_info), '[]'::jsonb))
           order by m.display_order, m.name), '[]'::jsonb)
    into v_items
  from public.sunday_lunch_menu_items m
  where m.is_active;

  return jsonb_build_object(
    'menu_date', to_char(p_date, 'YYYY-MM-DD'),
    'mains', (select coalesce(jsonb_agg(i), '[]'::jsonb) from jsonb_array_elements(v_items) i
              where i ->> 'category' = 'main'),
    'sides', (select coalesce(jsonb_agg(i), '[]'::jsonb) from jsonb_array_elements(v_items) i
              where i ->> 'category' = 'side'),
    'order_cutoff', public.tb_london_iso(v_cutoff),
    'ordering_open', p_now < v_cutoff,
    'deposit_per_guest', to_char((cfg ->> 'deposit_per_guest')::numeric, 'FM999990.00'),
    'currency', 'GBP');
end
$$;

revoke execute on function public.table_booking_availability(
  date, integer, public.table_booking_type, timestamptz) from public, anon, authenticated;
revoke execute on function public.sunday_lunch_menu(date, timestamptz)
  from public, anon, authenticated;
grant execute on function public.table_booking_availability(
  date, integer, public.table_booking_type, timestamptz) to service_role;
grant execute on function public.sunday_lunch_menu(date, timestamptz) to service_role;
