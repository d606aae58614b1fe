-- The pub's 2025 website (issue 14): what its Sunday lunch pages read and send.
--
-- 1. sunday_lunch_menu (from 20261124001100_fixes.sql): without a date it answers for
--    the next Sunday that can still be ordered; each item says `is_available`, `price` is a
--    JSON number (the website formats it with toFixed(2)), and the cut-off is also given as
--    `cutoff_time`, the name the website reads.
-- 2. table_booking_menu_ids: the website's later forms name each dish (`custom_item_name`)
--    instead of sending its id; the create path looks the names up here first.

-- The next Sunday Sunday lunch can still be booked for: the first from today whose day the
-- booking policy does not refuse (cut-off passed, closed, kitchen closed, too far ahead). When
-- none is left in the booking window, the first Sunday whose cut-off is still ahead.
create or replace function public.tb_next_orderable_sunday(p_now timestamptz) returns date
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  cfg jsonb := public.tb_config();
  v_today date := (p_now at time zone 'Europe/London')::date;
  v_sunday date := v_today + ((7 - extract(dow from v_today)::int) % 7);
  v_last date;
  v_day date;
begin
  select v_today + coalesce(max_advance_days, 56) into v_last
  from public.booking_policies where booking_type = 'sunday_lunch';
  v_last := coalesce(v_last, v_today + 56);
  v_day := v_sunday;
  while v_day <= v_last loop
    if (public.tb_day_refusal_for('sunday_lunch', v_day, 1, p_now, false, cfg,
                                  public.tb_hours_of(v_day))).reason is null then
      return v_day;
    end if;
    v_day := v_day + 7;
  end loop;
  if p_now >= ((v_sunday - 1) + (cfg ->> 'sunday_lunch_cutoff_time')::time)
              at time zone 'Europe/London' then
    return v_sunday + 7;
  end if;
  return v_sunday;
end
$$;

-- The Sunday lunch menu for a date (null: the next orderable Sunday), the data of
-- GET /api/table-bookings/menu/sunday-lunch.
create or replace function public.sunday_lunch_menu(p_date date, p_now timestamptz)
returns jsonb
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  cfg jsonb := public.tb_config();
  v_date date := coalesce(p_date, public.tb_next_orderable_sunday(p_now));
  v_cutoff timestamptz;
  v_items jsonb;
begin
  if extract(dow from v_date) <> 0 then
    raise exception using errcode = 'P0001', message = 'POLICY_VIOLATION',
      detail = public.tb_not_sunday_message(v_date),
      hint = '{"reason": "NOT_SUNDAY"}';
  end if;
  v_cutoff := ((v_date - 1) + (cfg ->> 'sunday_lunch_cutoff_time')::time)
              at time zone 'Europe/London';
  -- Only dishes still served are listed, so every one is available; the flag is what the
  -- website filters on.
  select coalesce(jsonb_agg(jsonb_build_object(
           'id', m.id,
           'name', m.name,
           'description', m.description,
           'category', m.category,
           'price', round(m.price, 2),
           'included', m.category = 'side' and m.price = 0,
           'is_available', true,
           'allergens', coalesce(to_jsonb(m.allergens), '[]'::jsonb),
           'dietary_info', coalesce(to_jsonb(m.dietary_info), '[]'::jsonb))
           order by m.display_order, m.name), '[]'::jsonb)
    into v_items
  from public.sunday_lunch_menu_items m
  where m.is_active;

  return jsonb_build_object(
    'menu_date', to_char(v_date, 'YYYY-MM-DD'),
    'mains', (select coalesce(jsonb_agg(i), '[]'::jsonb) from jsonb_array_elements(v_items) i
              where i ->> 'category' = 'main'),
    'sides', (select coalesce(jsonb_agg(i), '[]'::jsonb) from jsonb_array_elements(v_items) i
              where i ->> 'category' = 'side'),
    'order_cutoff', public.tb_london_iso(v_cutoff),
    'cutoff_time', public.tb_london_iso(v_cutoff),
    'ordering_open', p_now < v_cutoff,
    'deposit_per_guest', to_char((cfg ->> 'deposit_per_guest')::numeric, 'FM999990.00'),
    'currency', 'GBP');
end
$$;

-- The ids of the dishes still served, by name as the guest saw it (case and surrounding spaces
-- ignored, as the menu's unique index on lower(name) has it): {"<lower name>": "<id>"}.
-- Names that match nothing are left out; the caller reports them.
create or replace function public.table_booking_menu_ids(p_names jsonb)
returns jsonb
language sql stable security definer set search_path = public, pg_temp as $$
  select coalesce(jsonb_object_agg(lower(m.name), m.id), '{}'::jsonb)
  from public.sunday_lunch_menu_items m
  where m.is_active
    and lower(m.name) in (select lower(btrim(n)) from jsonb_array_elements_text(p_names) n)
$$;

revoke execute on function public.tb_next_orderable_sunday(timestamptz)
  from public, anon, authenticated;
revoke execute on function public.sunday_lunch_menu(date, timestamptz)
  from public, anon, authenticated;
revoke execute on function public.table_booking_menu_ids(jsonb)
  from public, anon, authenticated;
grant execute on function public.tb_next_orderable_sunday(timestamptz) to service_role;
grant execute on function public.sunday_lunch_menu(date, timestamptz) to service_role;
grant execute on function public.table_booking_menu_ids(jsonb) to service_role;
