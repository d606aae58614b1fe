-- Rate counter rows are cleared with the monitoring cron's other housekeeping. Every client
-- address that asks for availability leaves a row a minute in api_rate_counters, and every phone
-- that books one an hour; nothing removed them, so the table only grew. A window that started
-- over a day ago has long ended (the longest is an hour).

-- From 20261124000900_monitoring.sql: the old counter rows go too (the count returned is still
-- that of the request rows, as the cron reports it).
create or replace function public.table_booking_request_stats_prune(p_now timestamptz)
returns integer
language sql volatile security definer set search_path = public, pg_temp as $$
  with gone as (
    delete from public.table_booking_request_stats where created_at < p_now - interval '8 days'
    returning 1),
  counters as (
    delete from public.api_rate_counters where window_start < p_now - interval '1 day'
    returning 1)
  select count(*)::integer from gone
$$;
