-- Benchmark scratch only. (1) table_booking_availability uses tb_day_slots_v2; (2) API key
-- counters commit without waiting for the WAL flush; (3) a new guest's legacy-number lookup
-- uses the mobile_number index instead of walking every customer by created_at.
do $$
declare src text; changed text;
begin
  src := pg_get_functiondef('public.table_booking_availability(date, integer, public.table_booking_type, timestamptz)'::regprocedure);
  changed := replace(src, 'public.tb_day_slots(', 'public.tb_day_slots_v2(');
  if changed = src then raise exception 'availability: no change'; end if;
  execute changed;
  src := pg_get_functiondef('public.api_key_authenticate(text, timestamptz, jsonb)'::regprocedure);
  changed := replace(src, E'begin\n  select * into k from public.api_keys',
                     E'begin\n  perform set_config(''synchronous_commit'', ''off'', true);\n  select * into k from public.api_keys');
  if changed = src then raise exception 'authenticate: no change'; end if;
  execute changed;
  src := pg_get_functiondef('public.tb_resolve_customer(jsonb)'::regprocedure);
  changed := replace(replace(src,
    E'    select * into c from public.customers\n     where mobile_number = any (array(',
    E'    with m as materialized (select * from public.customers\n     where mobile_number = any (array('),
    E'''[]''::jsonb))))\n     order by created_at limit 1;',
    E'''[]''::jsonb)))))\n    select * into c from m order by created_at limit 1;');
  if changed = src then raise exception 'resolve customer: no change'; end if;
  execute changed;
end
$$;
