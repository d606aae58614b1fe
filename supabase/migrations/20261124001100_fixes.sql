-- Fixes to two answers of the service.
--
-- 1. table_booking_set_status: a booking can be marked completed, like no_show, only once it has
--    started (API.md: "completed or no_show (after the start time)"). Marked completed before
--    its start, it gets the 422 POLICY_VIOLATION, {"reason": "NOT_STARTED"}, of a no-show.
-- 2. Sunday lunch on another day is refused in plain words ("Sunday lunch is served on Sundays
--    only, and Saturday 28 November is not a Sunday.", tb_not_sunday_message, which the booking
--    policy tb_day_refusal_for in 20261124001000 also uses) by the menu (sunday_lunch_menu),
--    instead of "...; Saturday 28 November is a Saturday."
--
-- Each function is the latest definition (in file order) with only that change.

-- From 20261124000500_booking_reads.sql: the NOT_SUNDAY message (tb_not_sunday_message).
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
      detail = public.tb_not_sunday_message(p_date),
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

-- From 20261124000600_booking_actions.sql: completed, like no_show, only after the start.
create or replace function public.table_booking_set_status(
  p_reference text,
  p_status text,
  p_actor jsonb,
  p_client jsonb,
  p_now timestamptz
) returns json
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  b public.table_bookings;
begin
  b := public.tb_booking_by_reference(p_reference, null, true);
  if p_status not in ('completed', 'no_show') then
    raise exception using errcode = 'P0001', message = 'VALIDATION_ERROR',
      detail = 'The status can be set to completed or no_show.',
      hint = '[{"field": "status", "message": "completed or no_show"}]';
  end if;
  if b.status <> 'confirmed' then
    raise exception using errcode = 'P0001', message = 'BOOKING_NOT_MODIFIABLE',
      detail = format('Only a confirmed booking can be marked %s; this one is %s.',
                      replace(p_status, '_', '-'), replace(b.status::text, '_', '-')),
      hint = jsonb_build_object('status', b.status)::text;
  end if;
  -- Neither a no-show nor completed before the booking has started.
  if b.start_datetime > p_now then
    raise exception using errcode = 'P0001', message = 'POLICY_VIOLATION',
      detail = format('A booking can be marked %s only after it starts (%s).',
                      case p_status when 'no_show' then 'as a no-show' else p_status end,
                      to_char(b.booking_time, 'HH24:MI')),
      hint = '{"reason": "NOT_STARTED"}';
  end if;
  update public.table_bookings set
    status = p_status::public.table_booking_status,
    completed_at = case when p_status = 'completed' then p_now else completed_at end,
    no_show_at = case when p_status = 'no_show' then p_now else no_show_at end,
    no_show_marked_at = case when p_status = 'no_show' then p_now else no_show_marked_at end,
    no_show_marked_by = case when p_status = 'no_show' and p_actor ->> 'kind' = 'staff'
                             then (p_actor ->> 'id')::uuid else no_show_marked_by end
  where id = b.id;
  perform public.tb_audit(
    'table_booking.status_changed', b.id, 'success', p_actor, p_client,
    jsonb_build_object('status', b.status), jsonb_build_object('status', p_status),
    jsonb_build_object('booking_reference', b.booking_reference, 'booking_type', b.booking_type,
                       'party_size', b.party_size, 'booking_date', b.booking_date,
                       'source', b.source));
  return public.table_booking_detail(b.booking_reference, null, p_now);
end
$$;
