-- Monitoring (plan: Monitoring & Alerts): the figures for the last hour and day, and the
-- per-request statistics the API error rate and latency are computed from.
--
-- The figures come from what the service already writes: audit_logs (bookings created and
-- refused, payment captures and their failures, SMS the provider refused), table_booking_payments
-- (deposits requested and paid), messages (SMS delivery status from Twilio) and table_bookings
-- (no-shows). Only table_booking_request_stats is new: one row per HTTP request (route template,
-- method, status, duration), no personal data, kept 8 days. The pub's api_usage is not used: its
-- api_key_id is NOT NULL and most requests (guests, webhooks, crons) carry no key.

create table if not exists public.table_booking_request_stats (
  id bigint generated always as identity primary key,
  route text not null,
  method text not null,
  status integer not null,
  duration_ms double precision not null,
  created_at timestamptz not null
);
create index if not exists idx_table_booking_request_stats_created_at
  on public.table_booking_request_stats (created_at);
alter table public.table_booking_request_stats enable row level security;
grant select, insert, update, delete on table public.table_booking_request_stats to service_role;

-- Function bodies are checked when called, not when made: each function is defined once,
-- in the file of its concern, in any order.
set local check_function_bodies = off;

-- Many request rows at once (the service buffers them in memory and flushes in batches).
create or replace function public.table_booking_record_requests(p_rows jsonb) returns integer
language sql volatile security definer set search_path = public, pg_temp as $$
  with added as (
    insert into public.table_booking_request_stats (route, method, status, duration_ms,
                                                    created_at)
    select left(r.route, 200), left(upper(r.method), 10), r.status, greatest(r.duration_ms, 0),
           r.created_at
    from jsonb_to_recordset(coalesce(p_rows, '[]'::jsonb)) as r (
      route text, method text, status integer, duration_ms double precision,
      created_at timestamptz)
    where r.route is not null and r.method is not null and r.status is not null
      and r.duration_ms is not null and r.created_at is not null
    returning 1)
  select count(*)::integer from added
$$;

-- PayPal's webhook log is pruned too (item 3).
create or replace function public.table_booking_request_stats_prune(p_now timestamptz)
returns integer
language sql volatile security definer set search_path = public, pg_temp as $$
  with gone as (
    delete from public.table_booking_request_stats where created_at < p_now - interval '8 days'
    returning 1),
  counters as (
    delete from public.api_rate_counters where window_start < p_now - interval '1 day'
    returning 1),
  webhooks as (
    delete from public.webhook_logs
    where webhook_type = 'paypal'
      and (processed_at < p_now - interval '30 days'
           or (status in ('signature_failed', 'configuration_error')
               and processed_at < p_now - interval '7 days'))
    returning 1)
  select count(*)::integer from gone
$$;

-- n / d rounded to 4 places; null when there is nothing to divide by.
create or replace function public.tb_monitoring_ratio(p_n bigint, p_d bigint) returns numeric
language sql immutable set search_path = pg_catalog, pg_temp as $$
  select case when p_d > 0 then round(p_n::numeric / p_d, 4) end
$$;

create or replace function public.tb_monitoring_utc(p_at timestamptz) returns text
language sql immutable set search_path = pg_catalog, pg_temp as $$
  select to_char(p_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

-- The figures of one window (p_from, p_to].
create or replace function public.tb_monitoring_window(p_from timestamptz, p_to timestamptz)
returns json
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  v_created bigint;
  v_refused bigint;
  v_captured bigint;
  v_pay_failed bigint;
  v_requested bigint;
  v_paid bigint;
  v_delivered bigint;
  v_sms_failed bigint;
  v_sms_pending bigint;
  v_sms_rejected bigint;
  v_requests bigint;
  v_errors bigint;
  v_client_errors bigint;
  v_avg double precision;
  v_p50 double precision;
  v_p95 double precision;
  v_p99 double precision;
  v_max double precision;
  v_no_shows bigint;
  v_attended bigint;
begin
  -- Audit trail: bookings, payment captures (per booking, as PayPal may report one twice), and
  -- SMS the provider refused or that failed for good (a retry is not final).
  select
    count(*) filter (where operation_type = 'table_booking.created'
                       and operation_status = 'success'),
    count(*) filter (where operation_type = 'table_booking.create_refused'),
    count(distinct coalesce(resource_id, id::text)) filter (
      where operation_type in ('payment.captured', 'payment.capture_after_release')
        and operation_status = 'success'),
    count(distinct coalesce(resource_id, id::text)) filter (
      where operation_type in ('payment.capture_amount_mismatch', 'payment.capture_denied')
        and operation_status = 'failure'),
    count(*) filter (where operation_type = 'message.sms_failed'
                       and coalesce(new_values ->> 'outcome', '') not in ('retry', 'lost'))
  into v_created, v_refused, v_captured, v_pay_failed, v_sms_rejected
  from public.audit_logs
  where created_at > p_from and created_at <= p_to
    and operation_type in ('table_booking.created', 'table_booking.create_refused',
                           'payment.captured', 'payment.capture_after_release',
                           'payment.capture_amount_mismatch', 'payment.capture_denied',
                           'message.sms_failed');

  -- Deposits asked for in the window, and how many of those were paid.
  select count(*), count(*) filter (where paid_at is not null and paid_at <= p_to)
  into v_requested, v_paid
  from public.table_booking_payments
  where created_at > p_from and created_at <= p_to;

  -- Texts about table bookings sent in the window, by Twilio's final status. Outbox rows (no
  -- provider configured) were never sent and count as neither.
  select
    count(*) filter (where twilio_status in ('delivered', 'read')),
    count(*) filter (where twilio_status in ('undelivered', 'failed', 'canceled')),
    count(*) filter (where status <> 'outbox' and (twilio_status is null or twilio_status not in
                     ('delivered', 'read', 'undelivered', 'failed', 'canceled')))
  into v_delivered, v_sms_failed, v_sms_pending
  from public.messages
  where direction = 'outbound' and table_booking_id is not null
    and created_at > p_from and created_at <= p_to;

  select count(*), count(*) filter (where status >= 500),
         count(*) filter (where status between 400 and 499),
         avg(duration_ms),
         percentile_cont(0.5) within group (order by duration_ms),
         percentile_cont(0.95) within group (order by duration_ms),
         percentile_cont(0.99) within group (order by duration_ms),
         max(duration_ms)
  into v_requests, v_errors, v_client_errors, v_avg, v_p50, v_p95, v_p99, v_max
  from public.table_booking_request_stats
  where created_at > p_from and created_at <= p_to;

  -- Bookings that started in the window and have been marked: no-show or completed.
  select count(*) filter (where status = 'no_show'), count(*) filter (where status = 'completed')
  into v_no_shows, v_attended
  from public.table_bookings
  where status in ('no_show', 'completed')
    and coalesce(start_datetime, (booking_date + booking_time) at time zone 'Europe/London')
        > p_from
    and coalesce(start_datetime, (booking_date + booking_time) at time zone 'Europe/London')
        <= p_to;

  return json_build_object(
    'from', public.tb_monitoring_utc(p_from),
    'to', public.tb_monitoring_utc(p_to),
    'bookings', json_build_object(
      'created', v_created, 'refused', v_refused,
      'success_rate', public.tb_monitoring_ratio(v_created, v_created + v_refused)),
    'payments', json_build_object(
      'deposits_requested', v_requested, 'deposits_paid', v_paid,
      'completion_rate', public.tb_monitoring_ratio(v_paid, v_requested),
      'captured', v_captured, 'failed', v_pay_failed,
      'failure_rate', public.tb_monitoring_ratio(v_pay_failed, v_captured + v_pay_failed)),
    'sms', json_build_object(
      'delivered', v_delivered, 'failed', v_sms_failed, 'rejected', v_sms_rejected,
      'pending', v_sms_pending,
      'delivery_rate', public.tb_monitoring_ratio(v_delivered,
                                                  v_delivered + v_sms_failed + v_sms_rejected)),
    'api', json_build_object(
      'requests', v_requests, 'errors', v_errors, 'client_errors', v_client_errors,
      'error_rate', public.tb_monitoring_ratio(v_errors, v_requests),
      'latency_ms', json_build_object(
        'avg', round(v_avg::numeric, 1), 'p50', round(v_p50::numeric, 1),
        'p95', round(v_p95::numeric, 1), 'p99', round(v_p99::numeric, 1),
        'max', round(v_max::numeric, 1))),
    'no_shows', json_build_object(
      'no_shows', v_no_shows, 'attended', v_attended,
      'rate', public.tb_monitoring_ratio(v_no_shows, v_no_shows + v_attended)));
end
$$;

-- The figures for the hour and the day up to p_now.
create or replace function public.table_booking_metrics(p_now timestamptz) returns json
language sql stable security definer set search_path = public, pg_temp as $$
  select json_build_object(
    'now', public.tb_monitoring_utc(p_now),
    'windows', json_build_object(
      'hour', public.tb_monitoring_window(p_now - interval '1 hour', p_now),
      'day', public.tb_monitoring_window(p_now - interval '1 day', p_now)))
$$;

-- Every function of this file: executable by service_role only.
select table_booking_service.service_role_only(array[
  'public.table_booking_record_requests',
  'public.table_booking_request_stats_prune',
  'public.tb_monitoring_ratio',
  'public.tb_monitoring_utc',
  'public.tb_monitoring_window',
  'public.table_booking_metrics'
]);
