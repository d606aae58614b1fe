-- Staff search matches what was typed: a search for "%" or "_" found every booking, because
-- they reached ILIKE as wildcards. They are escaped now (and so is the escape character).

-- From 20261124000600_booking_actions.sql: the search pattern escaped (v_pattern).
create or replace function public.table_booking_list(p_filters jsonb) returns json
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  v_page integer := greatest(coalesce((p_filters ->> 'page')::int, 1), 1);
  v_size integer := least(greatest(coalesce((p_filters ->> 'page_size')::int, 50), 1), 200);
  v_search text := nullif(trim(p_filters ->> 'search'), '');
  -- The search is matched as typed: % and _ are letters here, not LIKE's wildcards.
  v_pattern text := '%' || replace(replace(replace(v_search, '\', '\\'), '%', '\%'), '_', '\_')
                    || '%';
  v_digits text := nullif(regexp_replace(coalesce(p_filters ->> 'search', ''), '\D', '', 'g'), '');
  -- Staff type numbers the UK way (07700 900123); customers are stored as +447700900123.
  v_uk text := case when v_digits like '0%' then '44' || substr(v_digits, 2) end;
  v_statuses text[] := array(select jsonb_array_elements_text(
                         coalesce(p_filters -> 'status', '[]'::jsonb)));
  v_total integer;
  v_items json;
begin
  with matching as (
    select b.*, c.first_name, c.last_name, c.mobile_e164
    from public.table_bookings b
    left join public.customers c on c.id = b.customer_id
    where (p_filters ->> 'date_from' is null or b.booking_date >= (p_filters ->> 'date_from')::date)
      and (p_filters ->> 'date_to' is null or b.booking_date <= (p_filters ->> 'date_to')::date)
      and (cardinality(v_statuses) = 0 or b.status::text = any (v_statuses))
      and (p_filters ->> 'booking_type' is null
           or b.booking_type::text = p_filters ->> 'booking_type')
      and (v_search is null
           or b.booking_reference ilike v_pattern
           or (c.first_name || ' ' || c.last_name) ilike v_pattern
           or (length(v_digits) >= 4 and (c.mobile_e164 like '%' || v_digits || '%'
                                           or c.mobile_e164 like '%' || v_uk || '%')))
  ), page as (
    select * from matching
    order by booking_date, booking_time, booking_reference
    limit v_size offset (v_page - 1) * v_size
  )
  select (select count(*) from matching),
         coalesce((select json_agg(json_build_object(
           'booking_id', p.id,
           'booking_reference', p.booking_reference,
           'status', p.status,
           'booking_type', p.booking_type,
           'date', to_char(p.booking_date, 'YYYY-MM-DD'),
           'time', to_char(p.booking_time, 'HH24:MI'),
           'party_size', p.party_size,
           'customer_name', trim(coalesce(p.first_name, '') || ' ' || coalesce(p.last_name, '')),
           'mobile_number', p.mobile_e164,
           'special_requirements', p.special_requirements,
           'allergies', coalesce(to_json(p.allergies), '[]'::json),
           'source', p.source) order by p.booking_date, p.booking_time, p.booking_reference)
           from page p), '[]'::json)
    into v_total, v_items;
  return json_build_object('items', v_items, 'page', v_page, 'page_size', v_size,
                           'total', v_total);
end
$$;
